"""Hostile variants of valid app tokens, for the mutation campaign (bench/token_mutations.py, tests).

Every mutation here must be refused by `agent.interpret.tokens.verify` under a synchronised clock at `now`:
either it is not what the cloud signed (bit flips, truncations, other spellings, another key, `alg` games),
or the cloud's key signed something the lane must not take (a `kid` with path separators, duplicate names,
an oversized token, times just past the edges). A mutation that happens to give back the valid token itself
is skipped: it is not a mutation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from agent.interpret.tokens import Claims, TimePolicy, load_keys, verify
from simulators.cloud.tokens import TokenIssuer, b64url

SKEW_S = 300                       # the campaign's policy: the default [trust] clock_skew_s, clock synchronised
MAX_TOKEN_CHARS = 2048


def _unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _json_segment(text: str) -> str:
    return b64url(text.encode())


@dataclass
class Seeds:
    """Valid member, coupon and order tokens from `issuer`, and what the mutations need to forge others."""

    issuer: TokenIssuer
    now: int
    attacker: TokenIssuer = field(init=False)
    tokens: list[str] = field(init=False)
    claims: list[dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.attacker = TokenIssuer(kid=self.issuer.kid)          # the same kid, another private key
        self.claims = [self.issuer.claims("member", "M-0001", now=self.now),
                       self.issuer.claims("coupon", "M-0001", now=self.now, cid="C-100OFF"),
                       self.issuer.claims("order", "M-0001", now=self.now, oid="O-0001")]
        self.tokens = [self.issuer.sign(c) for c in self.claims]

    @property
    def public_pem(self) -> bytes:
        return self.issuer.public_pem()

    @property
    def public_raw(self) -> bytes:
        return self.issuer.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def header(self, **changes: Any) -> dict[str, Any]:
        return {"alg": "EdDSA", "kid": self.issuer.kid, "typ": "JWT", **changes}


Mutator = Callable[[random.Random, Seeds, int], str]


def _pick(rng: random.Random, seeds: Seeds) -> int:
    return rng.randrange(len(seeds.tokens))


def bit_flip(rng: random.Random, seeds: Seeds, i: int) -> str:
    """One to three bits flipped anywhere in the token's bytes (the result may not even be ASCII)."""
    raw = bytearray(seeds.tokens[i].encode())
    for _ in range(rng.randint(1, 3)):
        raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
    return raw.decode("latin-1")


def decoded_bit_flip(rng: random.Random, seeds: Seeds, i: int) -> str:
    """A bit flipped inside one decoded segment, re-encoded: well-formed base64url that reaches the signature."""
    parts = seeds.tokens[i].split(".")
    n = rng.randrange(3)
    raw = bytearray(_unb64(parts[n]))
    raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
    parts[n] = b64url(bytes(raw))
    return ".".join(parts)


def truncation(rng: random.Random, seeds: Seeds, i: int) -> str:
    token = seeds.tokens[i]
    if rng.random() < 0.2:
        return token.rsplit(".", 1)[0] + rng.choice(["", "."])       # the signature dropped
    return token[:rng.randrange(len(token))]


def alg_none(rng: random.Random, seeds: Seeds, i: int) -> str:
    head, body, signature = seeds.tokens[i].split(".")
    alg = rng.choice(["none", "None", "NONE", "nOnE", "", None])
    forged = _json_segment(json.dumps(seeds.header(alg=alg)))
    return f"{forged}.{body}.{rng.choice(['', signature, 'AA'])}"


def hs256_public_key(rng: random.Random, seeds: Seeds, i: int) -> str:
    """The classic key confusion: HMAC-SHA256 keyed with the verifier's public key (PEM or raw bytes)."""
    claims = {**seeds.claims[i], "sub": rng.choice(["M-0001", "M-9999", "S-0001"])}
    head = _json_segment(json.dumps(seeds.header(alg=rng.choice(["HS256", "EdDSA"]))))
    body = _json_segment(json.dumps(claims))
    secret = rng.choice([seeds.public_pem, seeds.public_raw, seeds.public_pem.strip()])
    mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(mac)}"


KIDS = ("../{kid}", "..\\{kid}", "{kid}/../{kid}", "/etc/omo-edge/keys/{kid}.pub", "keys/{kid}", "./{kid}",
        "{kid}\x00", "{kid}/", "{kid}.pub", "%2e%2e%2f{kid}", "..%2f{kid}", "/dev/null",
        "../../../../proc/self/environ", "{kid} ", "{KID}")


def kid_path(rng: random.Random, seeds: Seeds, i: int) -> str:
    """A `kid` that names a path; signed by the cloud's own key, so only the kid lookup can refuse it."""
    kid = rng.choice(KIDS).format(kid=seeds.issuer.kid, KID=seeds.issuer.kid.upper())
    signer = rng.choice([seeds.issuer, seeds.attacker])
    return signer.sign(seeds.claims[i], seeds.header(kid=kid))


def duplicate_keys(rng: random.Random, seeds: Seeds, i: int) -> str:
    """Duplicate names in the header or the claims, signed by the cloud's key (a parser differential)."""
    claims = seeds.claims[i]
    if rng.random() < 0.5:
        extra = rng.choice(['"alg":"none"', '"alg":"EdDSA"', f'"kid":"{seeds.issuer.kid}"', '"kid":"other"',
                            '"typ":"JWT"'])
        header = json.dumps(seeds.header())[:-1] + f", {extra}}}" if rng.random() < 0.5 else \
            "{" + extra + ", " + json.dumps(seeds.header())[1:]
        body = json.dumps(claims)
    else:
        name = rng.choice([n for n in ("typ", "sub", "exp", "iat", "jti", "cid", "oid") if n in claims])
        value = {"typ": '"staff"', "sub": '"S-0001"', "exp": str(seeds.now + 10**6), "iat": str(seeds.now),
                 "jti": '"x"', "cid": '"C-ALL"', "oid": '"O-9"', "nbf": str(seeds.now)}[name]
        header = json.dumps(seeds.header())
        body = json.dumps(claims)[:-1] + f', "{name}": {value}}}'
    head, payload = _json_segment(header), _json_segment(body)
    signature = b64url(seeds.issuer.private_key.sign(f"{head}.{payload}".encode()))
    return f"{head}.{payload}.{signature}"


def oversized(rng: random.Random, seeds: Seeds, i: int) -> str:
    """Past the 2048-character limit, signed by the cloud's key: refused before any decoding."""
    size = rng.choice([MAX_TOKEN_CHARS, 4096, 65536])
    if rng.random() < 0.5:
        return seeds.issuer.sign({**seeds.claims[i], "pad": "A" * size})
    return seeds.issuer.sign(seeds.claims[i], seeds.header(pad="A" * size))


def padding_trick(rng: random.Random, seeds: Seeds, i: int) -> str:
    """Other spellings of the same bytes: padding, the standard alphabet, whitespace, unused low bits set."""
    parts = seeds.tokens[i].split(".")
    n = rng.randrange(3)
    trick = rng.randrange(6)
    segment = parts[n]
    if trick == 0:
        segment += rng.choice(["=", "==", "===", "%3D"])
    elif trick == 1:
        segment = base64.b64encode(_unb64(segment)).decode()                     # standard alphabet, padded
    elif trick == 2:
        at = rng.randrange(len(segment) + 1)
        segment = segment[:at] + rng.choice([" ", "\n", "\t", "\r\n", "=", "."]) + segment[at:]
    elif trick == 3:
        segment = segment.replace("-", "+").replace("_", "/") if set("-_") & set(segment) else segment + "A"
    else:
        segment = _non_canonical(segment, rng)
    parts[n] = segment
    return ".".join(parts)


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _non_canonical(segment: str, rng: random.Random) -> str:
    """The same bytes with the last character's unused low bits set (when the length leaves any)."""
    unused = {2: 4, 3: 2}.get(len(segment) % 4, 0)
    if not unused:
        return segment + "A"
    value = _ALPHABET.index(segment[-1]) | rng.randint(1, (1 << unused) - 1)
    return segment[:-1] + _ALPHABET[value]


def unknown_key(rng: random.Random, seeds: Seeds, i: int) -> str:
    """Re-signed with a key the lane does not trust, under the trusted kid, claims changed or not; or with the
    attacker's key embedded in the header (`jwk`), which the lane must not use."""
    claims = {**seeds.claims[i], **rng.choice([{}, {"sub": "M-9999"}, {"typ": "staff"}, {"exp": seeds.now + 10**7}])}
    if rng.random() < 0.3:
        public = seeds.attacker.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url(public)}
        return seeds.attacker.sign(claims, seeds.header(jwk=jwk))
    return seeds.attacker.sign(claims)


def time_edge(rng: random.Random, seeds: Seeds, i: int) -> str:
    """exp, iat or nbf one second past what the skew allows, or not a usable number; signed by the cloud's key."""
    now, claims = seeds.now, dict(seeds.claims[i])
    choice = rng.randrange(8)
    if choice == 0:
        claims["exp"] = now - SKEW_S - rng.randint(1, 10**6)
    elif choice == 1:
        claims["iat"] = now + SKEW_S + rng.randint(1, 10**6)
    elif choice == 2:
        claims["nbf"] = now + SKEW_S + rng.randint(1, 10**6)
    elif choice == 3:
        claims[rng.choice(["exp", "iat"])] = rng.choice([None, "9999999999", True, [now], {"t": now}, 2**53,
                                                         -(2**53), 2**64, 1e400, -1e400, float("nan")])
    elif choice == 4:
        del claims[rng.choice(["exp", "iat"])]
    elif choice == 5:                  # a fraction of a second past the edge (NumericDate may have fractions)
        name = rng.choice(["exp", "iat", "nbf"])
        past = rng.choice([0.5, 0.001, 0.999, rng.uniform(0.0001, 0.9999)])
        claims[name] = now - SKEW_S - past if name == "exp" else now + SKEW_S + past
    else:
        claims["nbf"] = rng.choice(["tomorrow", None, 2**64, float("inf")]) if rng.random() < 0.3 else \
            now + SKEW_S + 1
        if claims["nbf"] is None:
            claims["exp"] = now - SKEW_S - 1
    return seeds.issuer.sign(claims)


MUTATORS: dict[str, Mutator] = {
    "bit_flip": bit_flip, "decoded_bit_flip": decoded_bit_flip, "truncation": truncation, "alg_none": alg_none,
    "hs256_public_key": hs256_public_key, "kid_path": kid_path, "duplicate_keys": duplicate_keys,
    "oversized": oversized, "padding_trick": padding_trick, "unknown_key": unknown_key, "time_edge": time_edge,
}


def mutation(rng: random.Random, seeds: Seeds, name: str) -> str | None:
    """One mutation of a random seed token by `name`; None when it gave the valid token back unchanged."""
    i = _pick(rng, seeds)
    token = MUTATORS[name](rng, seeds, i)
    return None if token == seeds.tokens[i] else token


def campaign(count: int, seed: int) -> tuple[Counter[str], Counter[str], Counter[str], list[str]]:
    """(tried, accepted, crashed) per mutation class, and the first few accepted tokens."""
    rng = random.Random(seed)
    issuer = TokenIssuer()
    with tempfile.TemporaryDirectory() as work:
        keys = load_keys([issuer.write_public_key(Path(work))])
    seeds = Seeds(issuer, now=1_790_000_000)
    policy = TimePolicy(now=seeds.now, skew_s=SKEW_S, clock_synced=True)
    assert all(isinstance(verify(t, keys, policy), Claims) for t in seeds.tokens), "control: seeds must pass"
    names = sorted(MUTATORS)
    tried: Counter[str] = Counter()
    accepted: Counter[str] = Counter()
    crashed: Counter[str] = Counter()
    examples: list[str] = []
    while sum(tried.values()) < count:
        name = names[rng.randrange(len(names))]
        token = mutation(rng, seeds, name)
        if token is None:
            continue
        tried[name] += 1
        try:
            result = verify(token, keys, policy)
        except Exception as exc:  # noqa: BLE001 - a crash is what the campaign counts
            crashed[name] += 1
            examples.append(f"{name} crashed {type(exc).__name__}: {token[:120]!r}")
            continue
        if isinstance(result, Claims):
            accepted[name] += 1
            if len(examples) < 10:
                examples.append(f"{name} accepted: {token[:200]!r}")
    return tried, accepted, crashed, examples
