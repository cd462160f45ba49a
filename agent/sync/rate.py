"""A token bucket for the relay's publishes: at most `per_second` on average, bursts of up to one second's.

Why: AWS IoT Core throttles a connection above 100 publishes a second, and a lane back from an outage with a
backlog of scans would otherwise publish as fast as its window refills. Pure: the caller passes the time.
"""

from __future__ import annotations

EPSILON = 1e-9   # (t + 0.4) - t is not exactly 0.4 in floating point: 2 tokens must not come out as 1.9999...


class TokenBucket:
    """`take(now, wanted)` returns how many of `wanted` may go now; `wait_s(now)` how long until one may."""

    def __init__(self, per_second: float, now: float) -> None:
        if per_second <= 0:
            raise ValueError("a rate limit must be positive")
        self.per_second = per_second
        self.capacity = max(1.0, per_second)   # one second's worth
        self.tokens = self.capacity
        self.updated = now

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now

    def take(self, now: float, wanted: int) -> int:
        self._refill(now)
        granted = min(wanted, int(self.tokens + EPSILON))
        self.tokens -= granted
        return granted

    def wait_s(self, now: float) -> float:
        self._refill(now)
        return 0.0 if self.tokens + EPSILON >= 1 else (1 - self.tokens) / self.per_second
