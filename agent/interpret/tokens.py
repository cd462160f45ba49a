"""Offline verification of the app's QR tokens: JWS compact (RFC 7515) signed with Ed25519 (RFC 8037).

Every refusal is a `TokenRejected(reason)` value. Nothing here keeps the signature: `Claims` and
`TokenRejected` hold what was signed, never the proof, so they can be logged and published as they are.

Clock policy (docs/interpretation.md, "Clock policy"): with a synchronised clock, `exp` and `iat` are checked with
`skew_s` of tolerance. When the system clock is not known to be synchronised, `exp` is still enforced but with
`unsynced_skew_s` (wider, default one hour; whether the clock is synchronised is the caller's to say:
`agent.clock.clock_trust()` asks the kernel), and so is `nbf` (with the same allowance: a coupon meant to start
tomorrow does not work today on a lane without NTP); a future `iat` is not held against the token (the local
clock is the suspect, not the cloud), and `Claims.clock_trusted` is False so the outcome is flagged. Single use of
coupons does not depend on the clock: it is the replay cache's job (agent.session.records.seen_tokens).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import ConfigError

if TYPE_CHECKING:   # cryptography (~8 MB resident) loads with the first key file, not with the daemon
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

MAX_TOKEN_CHARS = 2048
TOKEN_TYPES = ("member", "coupon", "order", "staff")
STAFF_ROLES = ("staff", "supervisor")
_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


class Rejection(StrEnum):
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_KEY = "unknown_key"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REPLAYED = "replayed"
    MALFORMED = "malformed"
    WRONG_TYPE = "wrong_type"


@dataclass(frozen=True, slots=True)
class Claims:
    """The verified content of a token (signature already checked and dropped)."""

    kid: str
    typ: str
    sub: str
    exp: int
    iat: int
    jti: str
    cid: str | None = None
    oid: str | None = None
    clock_trusted: bool = True
    role: str | None = None     # staff tokens: "staff" (also when absent) or "supervisor" (may void a paid sale)
    name: str | None = None     # staff tokens: the display name the attendant page shows


@dataclass(frozen=True, slots=True)
class TokenRejected:
    """Why a token was refused, with whatever could be read without trusting it (for the audit trail)."""

    reason: Rejection
    kid: str | None = None
    typ: str | None = None
    jti: str | None = None


@dataclass(frozen=True, slots=True)
class TimePolicy:
    now: float                  # seconds since the epoch
    skew_s: int = 300
    clock_synced: bool = True
    unsynced_skew_s: int = 3600


def looks_like_token(text: str) -> bool:
    """Cheap shape test so the router sends only JWS-looking text here (a JSON header always starts 'eyJ')."""
    return len(text) <= MAX_TOKEN_CHARS and _SHAPE.fullmatch(text) is not None


def load_keys(paths: Iterable[Path]) -> Mapping[str, Ed25519PublicKey]:
    """kid → key from `[trust] keys`; kid is the file name without its extension (rotation = add a file).
    cryptography is imported here, so a lane without keys never loads it (idle memory, docs/architecture.md)."""
    keys: dict[str, Ed25519PublicKey] = {}
    paths = tuple(paths)
    if not paths:
        return keys
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    for path in paths:
        try:
            key = load_pem_public_key(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path} is not a readable PEM public key ({exc}). Fix: give the cloud's "
                              "Ed25519 public key in PEM form", key="[trust] keys") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise ConfigError(f"{path} holds a {type(key).__name__}, not an Ed25519 key. Fix: app QR codes "
                              "are signed with Ed25519 (alg EdDSA); use that public key", key="[trust] keys")
        if path.stem in keys:
            raise ConfigError(f"two key files are named {path.stem!r}; kid must be unique. Fix: rename one",
                              key="[trust] keys")
        keys[path.stem] = key
    return keys


def _b64(segment: str) -> bytes:
    """base64url without padding, in its one canonical form (RFC 7515 §2, RFC 4648 §3.5): a last character whose
    unused low bits are set decodes to the same bytes, so without this check one signature had several
    spellings and a mutated token string was accepted (found by bench/token_mutations.py)."""
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    if base64.urlsafe_b64encode(raw).rstrip(b"=") != segment.encode("ascii"):
        raise ValueError("not canonical base64url")
    return raw


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """RFC 7515 §4 / RFC 7519 §4 let a parser take the last of duplicate names or refuse; refusing leaves no room
    for a cloud that reads the first and a lane that reads the last to disagree on what was signed."""
    value = dict(pairs)
    if len(value) != len(pairs):
        raise ValueError("duplicate member name")
    return value


def _json_object(segment: str) -> dict[str, Any] | None:
    try:
        value = json.loads(_b64(segment), object_pairs_hook=_unique_keys)
    except (binascii.Error, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def verify(token: str, keys: Mapping[str, Ed25519PublicKey], policy: TimePolicy,
           allowed: tuple[str, ...] = TOKEN_TYPES) -> Claims | TokenRejected:
    """Check shape, header, key, signature, then claims and time; the first failure is the reason."""
    if not looks_like_token(token):
        return TokenRejected(Rejection.MALFORMED)
    head, body, signature = token.split(".")
    header = _json_object(head)
    if header is None or header.get("alg") != "EdDSA" or "crit" in header or not isinstance(header.get("kid"), str):
        return TokenRejected(Rejection.MALFORMED)
    kid: str = header["kid"]
    key = keys.get(kid)
    if key is None:
        return TokenRejected(Rejection.UNKNOWN_KEY, kid=kid[:64])
    from cryptography.exceptions import InvalidSignature  # loaded already: the key came from load_keys

    try:
        raw_signature = _b64(signature)
        key.verify(raw_signature, f"{head}.{body}".encode("ascii"))
    except (InvalidSignature, binascii.Error, ValueError):
        return TokenRejected(Rejection.BAD_SIGNATURE, kid=kid)
    payload = _json_object(body)
    if payload is None:
        return TokenRejected(Rejection.MALFORMED, kid=kid)
    return _claims(kid, payload, policy, allowed)


def _text(payload: Mapping[str, Any], name: str) -> str | None:
    value = payload.get(name)
    return value if isinstance(value, str) and 0 < len(value) <= 128 else None


def _date(payload: Mapping[str, Any], name: str) -> float | None:
    """A NumericDate (RFC 7519 §2: seconds, fractions allowed), compared as given: rounding it to whole seconds
    let an `iat` or `nbf` a fraction past the allowance through (found by bench/token_mutations.py)."""
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and abs(value) < 2**53 else None


def _claims(kid: str, payload: Mapping[str, Any], policy: TimePolicy,
            allowed: tuple[str, ...]) -> Claims | TokenRejected:
    typ, sub, jti = _text(payload, "typ"), _text(payload, "sub"), _text(payload, "jti")
    exp, iat = _date(payload, "exp"), _date(payload, "iat")
    cid, oid = _text(payload, "cid"), _text(payload, "oid")
    if typ is None or sub is None or jti is None or exp is None or iat is None:
        return TokenRejected(Rejection.MALFORMED, kid=kid, typ=typ, jti=jti)
    if typ not in allowed:
        return TokenRejected(Rejection.WRONG_TYPE, kid=kid, typ=typ[:16], jti=jti)
    if (typ == "coupon" and cid is None) or (typ == "order" and oid is None):
        return TokenRejected(Rejection.MALFORMED, kid=kid, typ=typ, jti=jti)
    role, name = (_text(payload, "role"), _text(payload, "name")) if typ == "staff" else (None, None)
    if typ == "staff" and (("role" in payload and role not in STAFF_ROLES) or ("name" in payload and name is None)):
        return TokenRejected(Rejection.MALFORMED, kid=kid, typ=typ, jti=jti)
    skew = policy.skew_s if policy.clock_synced else policy.unsynced_skew_s
    if policy.now > exp + skew:
        return TokenRejected(Rejection.EXPIRED, kid=kid, typ=typ, jti=jti)
    nbf = _date(payload, "nbf")
    if nbf is None and "nbf" in payload:      # optional, but when present it must be a date, not ignored
        return TokenRejected(Rejection.MALFORMED, kid=kid, typ=typ, jti=jti)
    # A future `iat` is forgiven on an untrusted clock (the lane's clock is the suspect), but `nbf` is the
    # issuer's intent (a coupon that starts tomorrow): it keeps the same allowance as `exp`.
    if (policy.clock_synced and iat > policy.now + skew) or (nbf is not None and nbf > policy.now + skew):
        return TokenRejected(Rejection.NOT_YET_VALID, kid=kid, typ=typ, jti=jti)
    # exp rounded up: the replay cache keeps the jti until exp + skew (agent/session/records/seen_tokens.py).
    return Claims(kid=kid, typ=typ, sub=sub, exp=math.ceil(exp), iat=math.floor(iat), jti=jti, cid=cid, oid=oid,
                  clock_trusted=policy.clock_synced, role=role or ("staff" if typ == "staff" else None), name=name)
