"""The station's /metrics: call wait and resolve times, lanes by shown state, commands by outcome.

Its own registry (not prometheus-client's global one), so tests can run several stations in one process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from agent.station.board import CallChange

BUCKETS = (1, 5, 10, 20, 30, 60, 120, 300, 600, 1800)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Lanes(Collector):
    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("omo_edge_station_lanes", "Lanes by the state the page shows", labels=["state"])
        for state, count in sorted(self._counts().items()):
            family.add_metric([state], count)
        yield family


class StationMetrics:
    def __init__(self, lane_counts: Callable[[], dict[str, int]]) -> None:
        self.registry = CollectorRegistry()
        self.wait = Histogram("omo_edge_station_call_wait_seconds", "Call raised to first staff response",
                              ["reason"], buckets=BUCKETS, registry=self.registry)
        self.resolve = Histogram("omo_edge_station_call_resolve_seconds", "Call raised to resolved",
                                 ["reason"], buckets=BUCKETS, registry=self.registry)
        self.commands = Counter("omo_edge_station_commands_total", "Commands sent, by the lane's answer",
                                ["action", "outcome"], registry=self.registry)
        self.registry.register(_Lanes(lane_counts))

    def calls(self, changes: list[CallChange]) -> None:
        for change in changes:
            if change.kind == "acknowledged":
                self.wait.labels(change.reason).observe(change.seconds)
            elif change.kind == "resolved":
                self.resolve.labels(change.reason).observe(change.seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
