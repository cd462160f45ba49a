"""N virtual lanes in one process against one broker: open, connect, shop at a rate, drain, check.

Each lane is a `VirtualLane` (the agent's own lane.db, publisher and relay). The fleet staggers the lanes'
first visits over one period, so the load is as smooth as a store's day, and gathers every lane's
confirmations each window. After the run, `drain()` waits until every lane's outbox is confirmed and
`problems()` compares each lane's stream with what the ingest holds: every seq from 1 to the last, once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import resource
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.sync.settings import MqttSection
from simulators.fleet.ingest_view import StreamCounts
from simulators.fleet.lane import VirtualLane
from simulators.fleet.stats import FleetStats, Window
from simulators.fleet.traffic import Rate

FDS_PER_LANE = 8   # lane.db, its WAL and -shm for the writer and for the reader, the socket, one spare
OPEN_AT_ONCE = 16  # lane.db files created at once: more only queues behind the disk's fsyncs


@dataclass(frozen=True)
class FleetPlan:
    """How many lanes, grouped in stores, shopping at what rate, with what lane settings."""

    lanes: int
    state_root: Path
    rate: Rate = Rate()
    lanes_per_store: int = 8
    seed: int = 1
    first_store: int = 1   # fleets in several processes take separate ranges of stores

    def identities(self) -> list[tuple[str, str]]:
        """(store_id, lane_id) of every lane: store-0001/lane-01 .. lane-08, store-0002/lane-01, ..."""
        per_store = self.lanes_per_store
        return [(f"store-{self.first_store + n // per_store:04d}", f"lane-{n % per_store + 1:02d}")
                for n in range(self.lanes)]


def client_id(store_id: str, lane_id: str) -> str:
    """The lane's MQTT client ID, as the daemon's default: unique per lane, well under AWS IoT's 128 bytes."""
    return f"omo-edge-{store_id}-{lane_id}"


def raise_file_limit(lanes: int) -> None:
    """Lift the soft limit on open files to the hard one, and say plainly when the fleet cannot fit in it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = lanes * FDS_PER_LANE + 64
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, needed)), hard))
    if hard < needed:
        raise SystemExit(f"{lanes} lanes need about {needed} open files and this process may have {hard} "
                         f"(ulimit -Hn); run fewer lanes per process (--lanes {(hard - 64) // FDS_PER_LANE}), "
                         "or several fleet processes")


class Fleet:
    """The lanes of a `FleetPlan`, each with `section`'s settings and its own client ID."""

    def __init__(self, plan: FleetPlan, section: MqttSection) -> None:
        raise_file_limit(plan.lanes)
        self.plan = plan
        self.lanes = [VirtualLane(n, store, lane, plan.state_root / store / lane,
                                  dataclasses.replace(section, client_id=client_id(store, lane)), plan.rate,
                                  seed=plan.seed * 100_003 + n)
                      for n, (store, lane) in enumerate(plan.identities())]
        self.stats = FleetStats()
        self._stop = asyncio.Event()
        self._shopping: list[asyncio.Task[None]] = []
        self._recorded_seen = 0

    async def open(self) -> None:
        """Create every lane.db (a few at a time), then start every lane's publisher and relay."""
        gate = asyncio.Semaphore(OPEN_AT_ONCE)

        async def open_one(lane: VirtualLane) -> None:
            async with gate:
                await asyncio.to_thread(lane.open)
        await asyncio.gather(*(open_one(lane) for lane in self.lanes))
        for lane in self.lanes:
            lane.start()

    def connected(self) -> int:
        return sum(lane.connected for lane in self.lanes)

    async def wait_connected(self, timeout_s: float) -> float:
        """Seconds until every lane is connected; raises TimeoutError naming how many are not."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.gather(*(lane.publisher.connected.wait() for lane in self.lanes))
        except TimeoutError:
            raise TimeoutError(f"{len(self.lanes) - self.connected()} of {len(self.lanes)} lanes not connected "
                               f"within {timeout_s} s") from None
        return loop.time() - began

    def start_shopping(self) -> None:
        """Every lane's first visit at a random point of the first period, then one a period."""
        period = self.plan.rate.period_s
        for lane in self.lanes:
            self._shopping.append(asyncio.create_task(lane.shop(lane.rng.uniform(0, period), self._stop)))

    async def stop_shopping(self) -> None:
        """Let the visits under way finish their current step; none is cut inside a transaction."""
        self._stop.set()
        await asyncio.gather(*self._shopping)
        self._shopping = []

    def recorded(self) -> int:
        return sum(lane.last_seq for lane in self.lanes)

    def collect(self, now: float) -> None:
        """Take every lane's new confirmations and the events recorded since the last call into the stats."""
        recorded = self.recorded()
        latencies = [seconds for lane in self.lanes for seconds in lane.new_confirmations()]
        self.stats.add(now, recorded - self._recorded_seen, latencies)
        self._recorded_seen = recorded

    def backlog(self) -> int:
        return sum(lane.unconfirmed() for lane in self.lanes)

    async def watch(self, seconds: float, window_s: float, on_window: Callable[[Window], None],
                    began: float | None = None) -> None:
        """Collect and report a window at a time for `seconds`."""
        loop = asyncio.get_running_loop()
        began = loop.time() if began is None else began
        end = loop.time() + seconds
        while (now := loop.time()) < end:
            await asyncio.sleep(min(window_s, end - now))
            self.collect(loop.time())
            on_window(self.stats.close_window(elapsed_s=loop.time() - began, seconds=window_s,
                                              lanes=len(self.lanes), connected=self.connected(),
                                              backlog=self.backlog()))

    async def drain(self, timeout_s: float, poll_s: float = 0.5) -> float:
        """Seconds until no lane has an unconfirmed event; raises TimeoutError with the backlog left."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        try:
            async with asyncio.timeout(timeout_s):
                for _ in iter(self.backlog, 0):   # lanes' outboxes change on their writer threads
                    await asyncio.sleep(poll_s)
        except TimeoutError:
            raise TimeoutError(f"{self.backlog()} events still unconfirmed after {timeout_s} s") from None
        self.collect(loop.time())
        return loop.time() - began

    def problems(self, held: dict[str, StreamCounts]) -> list[str]:
        """Each lane whose stream the ingest does not hold exactly once from seq 1 to the lane's last."""
        found = []
        for lane in self.lanes:
            last = lane.last_seq
            counts = held.get(lane.stream_id, StreamCounts(0, 0, 0))
            if counts != StreamCounts(last, last, last):
                found.append(f"{lane.store_id}/{lane.lane_id}: wrote seqs 1..{last}, the ingest holds "
                             f"{counts.rows} rows, {counts.distinct_seqs} distinct seqs, highest {counts.highest_seq}")
        return found

    async def close(self) -> None:
        if self._shopping:
            await self.stop_shopping()
        errors = await asyncio.gather(*(lane.stop() for lane in self.lanes), return_exceptions=True)
        failed = [e for e in errors if isinstance(e, Exception)]
        if failed:
            raise failed[0]
