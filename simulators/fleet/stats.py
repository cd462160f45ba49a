"""What the fleet reports while it runs: throughput and confirmation latency, per window and in all.

Pure: the fleet hands in counts and latencies, this keeps them and answers percentiles. Latencies are kept in
full (a 10-minute run of 1,000 lanes is about 230,000 floats), so a p99 is exact, not a sketch's estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


def percentile(values: list[float], p: float) -> float | None:
    """The nearest-rank percentile (`p` in 0..100) of `values`, or None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Window:
    """One progress line: the lanes connected, events recorded and confirmed in the window, and latency."""

    elapsed_s: float
    seconds: float
    lanes: int
    connected: int
    recorded: int
    confirmed: int
    backlog: int
    p50_s: float | None
    p99_s: float | None

    @property
    def confirmed_per_s(self) -> float:
        return self.confirmed / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        def ms(value: float | None) -> str:
            return "-" if value is None else f"{value * 1000:.0f} ms"
        return (f"{self.elapsed_s:7.1f} s  lanes {self.connected}/{self.lanes} connected  "
                f"{self.confirmed_per_s:8.1f} events/s confirmed  backlog {self.backlog}  "
                f"confirmation p50 {ms(self.p50_s)} p99 {ms(self.p99_s)}")


@dataclass
class FleetStats:
    """Everything measured since `measure_from` (the warm-up before it is left out of the totals)."""

    measure_from: float = 0.0
    recorded: int = 0
    confirmed: int = 0
    latencies: list[float] = field(default_factory=list)
    _window_latencies: list[float] = field(default_factory=list)
    _window_recorded: int = 0

    def add(self, now: float, recorded: int, latencies: list[float]) -> None:
        self._window_recorded += recorded
        self._window_latencies.extend(latencies)
        if now >= self.measure_from:
            self.recorded += recorded
            self.confirmed += len(latencies)
            self.latencies.extend(latencies)

    def close_window(self, *, elapsed_s: float, seconds: float, lanes: int, connected: int, backlog: int) -> Window:
        window = Window(elapsed_s, seconds, lanes, connected, self._window_recorded, len(self._window_latencies),
                        backlog, percentile(self._window_latencies, 50), percentile(self._window_latencies, 99))
        self._window_latencies = []
        self._window_recorded = 0
        return window

    def p(self, q: float) -> float | None:
        return percentile(self.latencies, q)
