"""The token mutation campaign, test-sized: hostile variants of valid member, coupon and order tokens are all
refused and none crashes the verifier (bench/token_mutations.py runs 1,000,000). The acceptances the campaign
found are pinned one by one below."""

from __future__ import annotations

import random
from collections.abc import Mapping

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.interpret.tokens import Claims, Rejection, TimePolicy, TokenRejected, load_keys, verify
from simulators.cloud.token_mutations import MUTATORS, SKEW_S, Seeds, _non_canonical, campaign, mutation
from simulators.cloud.tokens import TokenIssuer, b64url

Keys = Mapping[str, Ed25519PublicKey]
NOW = 1_790_000_000
ISSUER = TokenIssuer()
SEEDS = Seeds(ISSUER, now=NOW)
POLICY = TimePolicy(now=NOW, skew_s=SKEW_S, clock_synced=True)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return (load_keys([ISSUER.write_public_key(tmp_path_factory.mktemp("keys"))]))


def test_the_seed_tokens_are_accepted_so_the_campaign_could_see_an_acceptance(keys: Keys) -> None:
    assert all(isinstance(verify(token, keys, POLICY), Claims) for token in SEEDS.tokens)


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from(sorted(MUTATORS)), seed=st.integers(0, 2**32))
def test_no_mutation_is_accepted_and_none_crashes(keys: Keys, name: str, seed: int) -> None:
    token = mutation(random.Random(seed), SEEDS, name)
    if token is not None:
        assert isinstance(verify(token, keys, POLICY), TokenRejected), (name, token[:200])


def test_a_seeded_campaign_of_every_class_accepts_nothing() -> None:
    tried, accepted, crashed, examples = campaign(5_000, seed=18)
    assert set(tried) == set(MUTATORS) and min(tried.values()) > 100
    assert not accepted and not crashed, examples


def reason(token: str, keys: Keys) -> Rejection | None:
    result = verify(token, keys, POLICY)
    return result.reason if isinstance(result, TokenRejected) else None


def test_a_signature_spelled_with_its_unused_low_bits_set_is_refused(keys: Keys) -> None:
    head, body, signature = SEEDS.tokens[0].split(".")
    other = _non_canonical(signature, random.Random(1))
    assert other != signature
    assert reason(f"{head}.{body}.{other}", keys) is Rejection.BAD_SIGNATURE


@pytest.mark.parametrize("body", [
    '{"typ":"member","sub":"M-0001","iat":1790000000,"exp":1790000300,"jti":"j","sub":"S-0001"}',
    '{"typ":"member","typ":"staff","sub":"M-0001","iat":1790000000,"exp":1790000300,"jti":"j"}',
])
def test_duplicate_claim_names_are_refused_even_when_signed(keys: Keys, body: str) -> None:
    head = b64url(b'{"alg":"EdDSA","kid":"cloud-test"}')
    payload = b64url(body.encode())
    signature = b64url(ISSUER.private_key.sign(f"{head}.{payload}".encode()))
    assert reason(f"{head}.{payload}.{signature}", keys) is Rejection.MALFORMED


@pytest.mark.parametrize(("changes", "expected"), [
    ({"iat": NOW + SKEW_S + 0.5}, Rejection.NOT_YET_VALID),     # was rounded down to the edge and accepted
    ({"nbf": NOW + SKEW_S + 0.001}, Rejection.NOT_YET_VALID),
    ({"exp": NOW - SKEW_S - 0.5}, Rejection.EXPIRED),
    ({"nbf": "tomorrow"}, Rejection.MALFORMED),                   # was ignored, as if absent
    ({"nbf": 2**64}, Rejection.MALFORMED),
    ({"iat": NOW + SKEW_S}, None),                                # exactly at the edge: still valid
    ({"exp": NOW - SKEW_S}, None),
])
def test_times_are_compared_as_signed_not_rounded(keys: Keys, changes: dict[str, float | str],
                                                   expected: Rejection | None) -> None:
    token = ISSUER.sign({**ISSUER.claims("member", "M-0001", now=NOW), **changes})
    assert reason(token, keys) is expected
