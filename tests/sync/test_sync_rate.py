"""The relay's token bucket ([mqtt] max_publish_rate): the rate on average, one second's burst, no more."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.sync.rate import TokenBucket


def test_a_full_bucket_grants_one_seconds_worth_then_refills_at_the_rate() -> None:
    bucket = TokenBucket(100, now=0.0)
    assert bucket.take(0.0, 250) == 100
    assert bucket.take(0.0, 1) == 0
    assert bucket.wait_s(0.0) == pytest.approx(0.01)
    assert bucket.take(0.5, 100) == 50
    assert bucket.take(10.0, 500) == 100   # an idle spell does not bank more than the burst


def test_a_rate_below_one_a_second_still_lets_one_publish_through() -> None:
    bucket = TokenBucket(0.5, now=0.0)
    assert bucket.take(0.0, 3) == 1
    assert bucket.wait_s(0.0) == pytest.approx(2.0)


def test_a_limit_of_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(0, now=0.0)


@given(rate=st.integers(1, 1000), steps=st.lists(st.tuples(st.floats(0, 2), st.integers(0, 2000)), max_size=50))
def test_no_window_of_time_gets_more_than_the_rate_plus_one_burst(rate: int, steps: list[tuple[float, int]]) -> None:
    bucket, now, granted = TokenBucket(rate, now=0.0), 0.0, 0
    for gap, wanted in steps:
        now += gap
        got = bucket.take(now, wanted)
        assert 0 <= got <= wanted
        granted += got
    assert granted <= rate * now + max(1, rate) + 1e-6
