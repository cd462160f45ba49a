"""Fleet capacity and the connection storm, on this machine: how many lanes one broker and its ingests carry.

    .venv/bin/python bench/fleet.py [--steps 250,500,1000] [--warmup 60] [--measure 60]
                                    [--backends sqlite,postgresql] [--ingests 1,2] [--storm-lanes N]

For each backend (the ingest's SQLite file, or a throwaway PostgreSQL) and each number of ingest processes on
the shared subscription, the lane counts in `--steps` run in turn at the default rate (one sale of 20 scans
per lane per minute), each on a fresh broker and database. A step holds when, over `--measure` seconds after
a warm-up of one period (every lane is shopping by then), confirmation p99 stays under 1 s and the
confirmed rate keeps up with the offered one (the baseline measured in the same step: ratio >= 0.97). The
search stops at the first step that does not hold. Each step prints the CPU each part spent per event:
the broker, the ingests together, PostgreSQL's server and backends, and the fleet process (the lanes' own
work, which a real chain spreads over one machine per lane), and the machine's busy share, so that what
saturates first is visible.

The storm: `--storm-lanes` lanes (default: the largest that held on SQLite with one ingest) shop until
steady, the broker is killed (-9, as a crash; its queue is in memory) and started again at once. Printed:
the seconds until every lane is connected again, and until every event recorded before the kill is
confirmed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from agent.sync.settings import MqttSection
from simulators.fleet.cloud import LocalCloud, local_cloud, process_tree_cpu_seconds
from simulators.fleet.fleet import Fleet, FleetPlan
from simulators.fleet.ingest_view import held_by_stream
from simulators.fleet.traffic import Rate

P99_LIMIT_S = 1.0
KEEPING_UP = 0.97


@dataclass
class Step:
    backend: str
    ingests: int
    lanes: int
    offered_per_s: float
    confirmed_per_s: float
    p50_s: float
    p99_s: float
    cpu_us_per_event: dict[str, float]
    busy_share: float
    gaps: int

    @property
    def holds(self) -> bool:
        return self.p99_s < P99_LIMIT_S and self.confirmed_per_s >= KEEPING_UP * self.offered_per_s and not self.gaps

    def line(self) -> str:
        cpu = "  ".join(f"{part} {us:.0f} us" for part, us in self.cpu_us_per_event.items())
        return (f"{self.backend:10s} x{self.ingests}  {self.lanes:5d} lanes  offered {self.offered_per_s:7.1f}/s  "
                f"confirmed {self.confirmed_per_s:7.1f}/s (ratio {self.confirmed_per_s / self.offered_per_s:.3f})  "
                f"p50 {self.p50_s * 1000:4.0f} ms  p99 {self.p99_s * 1000:5.0f} ms  CPU per event: {cpu}  "
                f"machine busy {self.busy_share:.0%}  gaps {self.gaps}  {'holds' if self.holds else 'DOES NOT HOLD'}")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    fields = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Databases:
    """A fresh ingest database per step (a SQLite path, or a PostgreSQL DSN), and the server's CPU if any."""

    fresh: Callable[[], str]
    server_cpu_s: Callable[[], float] | None = None


@contextlib.contextmanager
def databases(backend: str) -> Iterator[Databases]:
    count = iter(range(1_000_000))
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="fleet-db-") as directory:
            yield Databases(lambda: str(Path(directory) / f"ingest-{next(count)}.db"))
    else:
        from simulators.cloud.postgres import temporary_postgres

        with temporary_postgres() as server:
            assert server.process is not None
            pid = server.process.pid
            yield Databases(lambda: server.create_database(f"fleet_{next(count)}"),
                            lambda: process_tree_cpu_seconds(pid))


async def steady(fleet: Fleet, cloud: LocalCloud, warmup_s: float, measure_s: float,
                 database_cpu_s: Callable[[], float] | None) -> tuple[float, dict[str, float], float]:
    """Shop through the warm-up, then measure: seconds, CPU seconds by part, the machine's busy share."""
    loop = asyncio.get_running_loop()
    fleet.stats.measure_from = float("inf")   # nothing of the warm-up counts
    fleet.start_shopping()
    await fleet.watch(warmup_s, 5.0, lambda window: None)
    fleet.stats.measure_from = loop.time()

    def cpu_now() -> dict[str, float]:
        parts = {**cloud.cpu_seconds(), "fleet": self_cpu_s()}
        if database_cpu_s is not None:
            parts["postgres"] = database_cpu_s()
        return parts
    cpu_before = cpu_now()
    busy_before = machine_busy()
    await fleet.watch(measure_s, 5.0, lambda window: None)
    seconds = loop.time() - fleet.stats.measure_from
    cpu_after = cpu_now()
    busy_after = machine_busy()
    cpu = {part: cpu_after[part] - cpu_before[part] for part in cpu_before}
    busy = (busy_after[0] - busy_before[0]) / max(1.0, busy_after[1] - busy_before[1])
    return seconds, cpu, busy


async def run_step(backend: str, ingests: int, lanes: int, databases: Databases, args: argparse.Namespace) -> Step:
    rate = Rate()
    with tempfile.TemporaryDirectory(prefix="fleet-") as directory, \
            local_cloud(Path(directory) / "cloud", ingests=ingests, database=databases.fresh()) as cloud:
        section = MqttSection(host="127.0.0.1", port=cloud.broker.port, keepalive_s=60)
        fleet = Fleet(FleetPlan(lanes=lanes, state_root=Path(directory) / "lanes", rate=rate), section)
        try:
            await fleet.open()
            await fleet.wait_connected(120)
            seconds, cpu, busy = await steady(fleet, cloud, args.warmup, args.measure, databases.server_cpu_s)
            confirmed = fleet.stats.confirmed
            p50, p99 = fleet.stats.p(50), fleet.stats.p(99)
            await fleet.stop_shopping()
            await fleet.drain(300)
        finally:
            await fleet.close()
        gaps = len(fleet.problems(held_by_stream(cloud.database)))
    per_event = {part: 1e6 * spent / max(1, confirmed) for part, spent in cpu.items()}
    return Step(backend, ingests, lanes, rate.events_per_second(lanes), confirmed / seconds, p50 or 0.0,
                p99 or float("inf"), per_event, busy, gaps)


async def storm(lanes: int, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="fleet-storm-") as directory, \
            local_cloud(Path(directory) / "cloud") as cloud:
        fleet = Fleet(FleetPlan(lanes=lanes, state_root=Path(directory) / "lanes", rate=Rate()),
                      MqttSection(host="127.0.0.1", port=cloud.broker.port, keepalive_s=60))
        try:
            await fleet.open()
            first_connect = await fleet.wait_connected(120)
            fleet.start_shopping()
            await fleet.watch(args.storm_warmup, 5.0, lambda window: None)
            cloud.broker.kill()
            killed = time.monotonic()
            marks = [lane.last_seq for lane in fleet.lanes]
            cloud.broker.start()
            await _until(lambda: fleet.connected() == 0 or time.monotonic() - killed > 2, 0.05)
            await fleet.wait_connected(300)
            connected_in = time.monotonic() - killed
            await _until(lambda: all(lane.unconfirmed_up_to(mark) == 0 for lane, mark in zip(fleet.lanes, marks,
                                                                                             strict=True)), 0.25)
            confirmed_in = time.monotonic() - killed
            await fleet.stop_shopping()
            await fleet.drain(300)
        finally:
            await fleet.close()
        gaps = len(fleet.problems(held_by_stream(cloud.database)))
    print(f"storm: {lanes} lanes (first connect of all: {first_connect:.1f} s); broker killed and restarted: all "
          f"connected again {connected_in:.1f} s after the kill, every event recorded before it confirmed "
          f"{confirmed_in:.1f} s after; gaps {gaps}", flush=True)


async def _until(predicate: Callable[[], bool], poll_s: float) -> None:
    for _ in iter(predicate, True):   # the lanes' state changes on their writer threads and sockets
        await asyncio.sleep(poll_s)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="250,500,1000")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before measuring (one period)")
    parser.add_argument("--measure", type=float, default=60.0)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--ingests", default="1,2")
    parser.add_argument("--storm-lanes", type=int, default=0, help="0: the largest that held on SQLite x1")
    parser.add_argument("--storm-warmup", type=float, default=30.0)
    parser.add_argument("--no-storm", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)   # N lanes' "connection lost" during the storm is expected
    steps = [int(n) for n in args.steps.split(",")]
    capacity: dict[tuple[str, int], int] = {}
    for backend in args.backends.split(","):
        with databases(backend) as made:
            for ingests in (int(n) for n in args.ingests.split(",")):
                held = 0
                for lanes in steps:
                    step = asyncio.run(run_step(backend, ingests, lanes, made, args))
                    print(step.line(), flush=True)
                    if not step.holds:
                        break
                    held = lanes
                capacity[(backend, ingests)] = held
    print("capacity (most lanes that held, of the steps tried):", flush=True)
    for (backend, ingests), lanes in capacity.items():
        print(f"  {backend} with {ingests} ingest(s): {lanes} lanes", flush=True)
    if not args.no_storm:
        lanes = args.storm_lanes or capacity.get(("sqlite", 1)) or steps[0]
        asyncio.run(storm(lanes, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
