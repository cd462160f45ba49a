"""App QR tokens: Ed25519 JWS verified offline; every refusal has its reason and no signature is kept."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from agent.errors import ConfigError
from agent.interpret.meanings import Coupon, Invalid, Member, PickupOrder, StaffCode
from agent.interpret.router import interpret
from agent.interpret.rules import InterpretSection, Rules, build_rules
from agent.interpret.tokens import Claims, Rejection, TimePolicy, TokenRejected, load_keys, looks_like_token, verify
from simulators.cloud.tokens import TokenIssuer, b64url, forge_payload

NOW = 1_790_000_000


def check(token: str, rules: Rules, now: float = NOW, synced: bool = True,
          types: tuple[str, ...] = ("member", "coupon", "order", "staff")) -> Claims | TokenRejected:
    return verify(token, rules.keys, TimePolicy(now=now, skew_s=300, clock_synced=synced), types)


def reason(result: Claims | TokenRejected) -> Rejection | None:
    return result.reason if isinstance(result, TokenRejected) else None


def test_valid_member_token_gives_its_claims(token_issuer: TokenIssuer, interpret_rules: Rules) -> None:
    result = check(token_issuer.member("M-42", now=NOW), interpret_rules)
    assert isinstance(result, Claims) and (result.typ, result.sub, result.kid) == ("member", "M-42", "cloud-test")


def test_forged_claims_fail_the_signature(token_issuer: TokenIssuer, interpret_rules: Rules) -> None:
    token = forge_payload(token_issuer.coupon(now=NOW), cid="C-100PCT")
    assert reason(check(token, interpret_rules)) is Rejection.BAD_SIGNATURE


def test_token_signed_by_another_key_with_our_kid_fails(interpret_rules: Rules) -> None:
    impostor = TokenIssuer(kid="cloud-test")
    assert reason(check(impostor.member(now=NOW), interpret_rules)) is Rejection.BAD_SIGNATURE


def test_unknown_kid_is_named(interpret_rules: Rules) -> None:
    result = check(TokenIssuer(kid="cloud-2031").member(now=NOW), interpret_rules)
    assert isinstance(result, TokenRejected) and (result.reason, result.kid) == (Rejection.UNKNOWN_KEY, "cloud-2031")


def test_rotation_is_adding_a_key_file(tmp_path: Path, token_issuer: TokenIssuer) -> None:
    newer = TokenIssuer(kid="cloud-2027")
    keys = load_keys([token_issuer.write_public_key(tmp_path), newer.write_public_key(tmp_path)])
    for issuer in (token_issuer, newer):
        assert isinstance(verify(issuer.member(now=NOW), keys, TimePolicy(now=NOW)), Claims)


@pytest.mark.parametrize(("now", "expected"), [
    (NOW + 300 + 300, None),                     # exactly exp + skew: still valid
    (NOW + 300 + 301, Rejection.EXPIRED),
    (NOW - 301, Rejection.NOT_YET_VALID),         # issued more than the skew in the future
    (NOW - 300, None),
])
def test_time_checks_with_skew(token_issuer: TokenIssuer, interpret_rules: Rules, now: int,
                               expected: Rejection | None) -> None:
    assert reason(check(token_issuer.member(now=NOW, ttl_s=300), interpret_rules, now=now)) is expected


def test_unsynchronised_clock_widens_exp_and_ignores_future_iat(token_issuer: TokenIssuer,
                                                                 interpret_rules: Rules) -> None:
    token = token_issuer.member(now=NOW, ttl_s=300)
    late = check(token, interpret_rules, now=NOW + 300 + 3000, synced=False)
    early = check(token, interpret_rules, now=NOW - 86400, synced=False)
    assert isinstance(late, Claims) and late.clock_trusted is False
    assert isinstance(early, Claims)
    assert reason(check(token, interpret_rules, now=NOW + 300 + 3601, synced=False)) is Rejection.EXPIRED


@pytest.mark.parametrize(("nbf_ahead_s", "synced", "expected"), [
    (86400, False, Rejection.NOT_YET_VALID),      # a coupon meant for tomorrow, on a lane without NTP
    (7200, False, Rejection.NOT_YET_VALID),       # two hours ahead: beyond the unsynchronised allowance
    (3601, False, Rejection.NOT_YET_VALID),
    (3600, False, None),                          # within unsynced_skew_s: the clock may be that far behind
    (301, True, Rejection.NOT_YET_VALID),
    (300, True, None),
])
def test_nbf_is_enforced_with_the_clock_policys_allowance(token_issuer: TokenIssuer, interpret_rules: Rules,
                                                          nbf_ahead_s: int, synced: bool,
                                                          expected: Rejection | None) -> None:
    token = token_issuer.coupon(now=NOW, ttl_s=2 * 86400, nbf=NOW + nbf_ahead_s)
    assert reason(check(token, interpret_rules, now=NOW, synced=synced)) is expected


@pytest.mark.parametrize("cut", [1, 10, 43, 44, 87, 200])
def test_truncated_tokens_are_refused(token_issuer: TokenIssuer, interpret_rules: Rules, cut: int) -> None:
    token = token_issuer.member(now=NOW)
    assert reason(check(token[:-cut], interpret_rules)) in (Rejection.BAD_SIGNATURE, Rejection.MALFORMED)


@pytest.mark.parametrize("header", [
    {"alg": "none", "kid": "cloud-test"},
    {"alg": "HS256", "kid": "cloud-test"},
    {"alg": "EdDSA"},
    {"alg": "EdDSA", "kid": "cloud-test", "crit": ["exp"]},
])
def test_headers_we_do_not_accept_are_malformed(token_issuer: TokenIssuer, interpret_rules: Rules,
                                                header: dict[str, object]) -> None:
    token = token_issuer.sign(token_issuer.claims("member", "M-1", now=NOW), header=header)
    assert reason(check(token, interpret_rules)) is Rejection.MALFORMED


def test_unsigned_alg_none_token_is_refused(interpret_rules: Rules) -> None:
    head = b64url(json.dumps({"alg": "none", "kid": "cloud-test"}).encode())
    body = b64url(json.dumps({"typ": "coupon", "sub": "M", "cid": "C", "jti": "j", "iat": NOW, "exp": NOW}).encode())
    assert reason(check(f"{head}.{body}.", interpret_rules)) is Rejection.MALFORMED


@pytest.mark.parametrize("claims", [
    {"typ": "member", "sub": "M-1", "iat": NOW, "exp": NOW + 60},                 # no jti
    {"typ": "member", "sub": "M-1", "iat": NOW, "exp": "tomorrow", "jti": "j"},
    {"typ": "coupon", "sub": "M-1", "iat": NOW, "exp": NOW + 60, "jti": "j"},     # coupon without cid
    {"typ": "order", "sub": "M-1", "iat": NOW, "exp": NOW + 60, "jti": "j"},      # order without oid
])
def test_signed_but_incomplete_claims_are_malformed(token_issuer: TokenIssuer, interpret_rules: Rules,
                                                    claims: dict[str, object]) -> None:
    assert reason(check(token_issuer.sign(claims), interpret_rules)) is Rejection.MALFORMED


def test_fractional_numeric_dates_are_accepted(token_issuer: TokenIssuer, interpret_rules: Rules) -> None:
    claims = token_issuer.claims("member", "M-1", now=NOW) | {"iat": NOW + 0.5, "exp": NOW + 60.25}
    result = check(token_issuer.sign(claims), interpret_rules)
    # exp rounded up (the replay cache keeps the jti at least as long as the token is valid), iat down
    assert isinstance(result, Claims) and (result.exp, result.iat) == (NOW + 61, NOW)


def test_type_not_accepted_here_is_wrong_type(token_issuer: TokenIssuer, interpret_rules: Rules) -> None:
    assert reason(check(token_issuer.staff(now=NOW), interpret_rules, types=("member",))) is Rejection.WRONG_TYPE
    unknown_type = token_issuer.sign(token_issuer.claims("admin", "X", now=NOW))
    assert reason(check(unknown_type, interpret_rules)) is Rejection.WRONG_TYPE


def test_staff_tokens_can_be_turned_off(token_issuer: TokenIssuer) -> None:
    assert token_issuer.key_path is not None
    rules = build_rules(InterpretSection(accept_staff_tokens=False), (token_issuer.key_path,), 300, "JPY")
    meaning = interpret("qr", token_issuer.staff(), b"", rules, _now())
    assert isinstance(meaning, Invalid) and meaning.reason == "wrong_type"


def _now() -> datetime:
    return datetime.now().astimezone()


@pytest.mark.parametrize(("make", "kind"), [
    (lambda i: i.member("M-7"), Member), (lambda i: i.coupon("C-1", "M-7"), Coupon),
    (lambda i: i.order("O-9", "M-7"), PickupOrder), (lambda i: i.staff("S-3"), StaffCode),
])
def test_router_gives_each_token_type_its_meaning(token_issuer: TokenIssuer, interpret_rules: Rules,
                                                  make: Callable[[TokenIssuer], str], kind: type) -> None:
    assert isinstance(interpret("qr", make(token_issuer), b"", interpret_rules, _now()), kind)


def test_signature_appears_nowhere_in_meanings_or_events(token_issuer: TokenIssuer, interpret_rules: Rules) -> None:
    good = token_issuer.coupon("C-1", "M-7")
    forged = forge_payload(good, cid="C-2")
    for token in (good, forged):
        signature = token.rsplit(".", 1)[1]
        meaning = interpret("qr", token, token.encode(), interpret_rules, _now())
        assert signature not in repr(meaning) and signature not in json.dumps(meaning.event_fields())
        assert token.split(".")[1] not in repr(meaning)


def test_rejection_event_names_reason_and_token_id(token_issuer: TokenIssuer, interpret_rules: Rules) -> None:
    token = forge_payload(token_issuer.coupon("C-1", "M-7", now=NOW), cid="C-2")
    fields = interpret("qr", token, b"", interpret_rules, _now()).event_fields()
    assert fields["outcome"] == "rejected" and fields["reason"] == "bad_signature"
    assert fields["text"] == "jws kid=cloud-test typ=? jti=?"


def test_shape_check_rejects_non_tokens() -> None:
    assert not looks_like_token("4901234567894")
    assert not looks_like_token("eyJ" + "a" * 3000 + ".b.c")


def test_a_key_file_that_is_not_ed25519_is_a_config_error(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    path = tmp_path / "ec.pub"
    path.write_bytes(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(ConfigError, match="not an Ed25519 key"):
        load_keys([path])


def test_staff_token_role_defaults_to_staff_and_carries_supervisor(token_issuer: TokenIssuer,
                                                                    interpret_rules: Rules) -> None:
    plain = check(token_issuer.staff("S-1", now=NOW), interpret_rules)
    boss = check(token_issuer.staff("S-2", now=NOW, role="supervisor", name="Sato"), interpret_rules)
    assert isinstance(plain, Claims) and (plain.role, plain.name) == ("staff", None)
    assert isinstance(boss, Claims) and (boss.role, boss.name) == ("supervisor", "Sato")


@pytest.mark.parametrize("extra", [{"role": "owner"}, {"role": 1}, {"name": ""}])
def test_staff_token_with_an_unknown_role_or_bad_name_is_malformed(token_issuer: TokenIssuer, interpret_rules: Rules,
                                                                   extra: dict[str, object]) -> None:
    assert reason(check(token_issuer.staff(now=NOW, **extra), interpret_rules)) is Rejection.MALFORMED


def test_member_token_has_no_role(token_issuer: TokenIssuer, interpret_rules: Rules) -> None:
    result = check(token_issuer.member(now=NOW, role="supervisor"), interpret_rules)
    assert isinstance(result, Claims) and result.role is None
