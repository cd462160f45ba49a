"""A virtual lane: the agent's own lane.db, Publisher and OutboxRelay, fed by shoppers at a set rate.

Nothing of the sync protocol is written again here: the lane records through the product's functions
(simulators/fleet/traffic.py) into its own lane.db, and the product's relay and publisher send it, with
the lane's own client ID, stream, seq and the ingest's acks. Confirmation latency is read from the outbox
itself: `confirmed_at - created_at` of each row, from the commit that recorded the event to the commit that
recorded the ingest's ack, which is the lane's own view of "the cloud has it".
"""

from __future__ import annotations

import asyncio
import random
from functools import partial
from pathlib import Path

from agent.health import ComponentHealth
from agent.lane_db import open_sync_db
from agent.store import Database
from agent.sync import outbox
from agent.sync.mqtt import Handlers, Publisher
from agent.sync.relay import OutboxRelay
from agent.sync.settings import MqttSection
from simulators.fleet.traffic import Rate, Visit


class VirtualLane:
    """One lane of the fleet; `open()`, then `start()` its sync, then `shop()` until told to stop."""

    def __init__(self, number: int, store_id: str, lane_id: str, state_dir: Path, section: MqttSection,
                 rate: Rate, seed: int) -> None:
        self.number, self.store_id, self.lane_id = number, store_id, lane_id
        self.state_dir, self.section, self.rate = state_dir, section, rate
        self.rng = random.Random(seed)
        self.mqtt_health, self.relay_health = ComponentHealth("mqtt"), ComponentHealth("relay")
        self.last_seq = 0
        self.sales = 0
        self.catalog_deltas = 0
        self.stream_id = ""
        self._db: Database | None = None
        self._publisher: Publisher | None = None
        self._relay: OutboxRelay[Publisher] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._confirmed_mark = 0.0     # confirmed_at of the newest row already counted

    @property
    def db(self) -> Database:
        assert self._db is not None, "VirtualLane.open() first"
        return self._db

    @property
    def publisher(self) -> Publisher:
        assert self._publisher is not None, "VirtualLane.open() first"
        return self._publisher

    @property
    def connected(self) -> bool:
        return self._publisher is not None and self._publisher.connected.is_set()

    def open(self) -> None:
        """Open (create, migrate) lane.db: blocking, run it in a thread."""
        self._db = open_sync_db(self.state_dir / "lane.db", self.store_id, self.lane_id)
        self.last_seq = outbox.seqs_in_use(self.db.reader())[0]
        self.stream_id = outbox.stream_id(self.db.reader())

    def start(self) -> None:
        """The publisher and the relay as tasks, on the running loop."""
        handlers = Handlers(on_catalog_delta=self._on_catalog_delta)
        section = self.section
        self._relay = OutboxRelay(self.db, partial(Publisher, section, self.store_id, self.lane_id), handlers=handlers,
                                  delivery=section.delivery, window=section.inflight_window,
                                  confirm_timeout_s=section.confirm_timeout_s, retention_days=section.retention_days,
                                  max_publish_rate=section.max_publish_rate)
        self._publisher = self._relay.publisher
        self._tasks = [asyncio.create_task(self._publisher.run(self.mqtt_health), name=f"mqtt-{self.lane_id}"),
                       asyncio.create_task(self._relay.run(self.relay_health), name=f"relay-{self.lane_id}")]

    async def _on_catalog_delta(self, payload: bytes) -> None:
        self.catalog_deltas += 1

    async def shop(self, first_visit_in_s: float, stop: asyncio.Event) -> None:
        """Visits one after another, a period apart, until `stop`; a visit under way is finished."""
        period = self.rate.period_s
        await _sleep_unless(stop, first_visit_in_s)
        visit_number = 0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            began = loop.time()
            visit_number += 1
            await self._visit(Visit(self.number, visit_number, self.rate.scans_per_sale, self.rng), period, stop)
            await _sleep_unless(stop, max(0.0, began + period - loop.time()))

    async def _visit(self, visit: Visit, period: float, stop: asyncio.Event) -> None:
        """Scans spread over 60% of the period, then the payment: the shape of a real basket's traffic.

        When the fleet stops, a visit under way ends after its current step (the shopper walks away): every
        step is a whole transaction, so nothing is left half written.
        """
        gap = 0.6 * period / max(1, self.rate.scans_per_sale)
        self._recorded(await self.db.write(visit.start))
        for index in range(self.rate.scans_per_sale):
            await _sleep_unless(stop, gap * self.rng.uniform(0.5, 1.5))
            if stop.is_set():
                return
            self._recorded(await self.db.write(visit.scan, index))
        await _sleep_unless(stop, gap)
        if not stop.is_set():
            self._recorded(await self.db.write(visit.pay))
            self.sales += 1

    def _recorded(self, seq: int) -> None:
        self.last_seq = max(self.last_seq, seq)
        assert self._relay is not None
        self._relay.wake()

    def new_confirmations(self) -> list[float]:
        """Seconds from commit to confirmation of the rows confirmed since the last call (the outbox's own)."""
        rows = self.db.reader().execute(
            "SELECT confirmed_at, confirmed_at - created_at FROM outbox INDEXED BY outbox_confirmed "
            f"WHERE state = {outbox.CONFIRMED} AND confirmed_at > ?", (self._confirmed_mark,)).fetchall()
        if rows:
            self._confirmed_mark = max(row[0] for row in rows)
        return [row[1] for row in rows]

    def unconfirmed(self) -> int:
        return int(self.db.reader().execute("SELECT count(*) FROM outbox WHERE state = ?",
                                            (outbox.PENDING,)).fetchone()[0])

    def unconfirmed_up_to(self, seq: int) -> int:
        """Events up to `seq` not yet confirmed (a backlog from before a moment, whatever came after it)."""
        return int(self.db.reader().execute("SELECT count(*) FROM outbox WHERE state = ? AND seq <= ?",
                                            (outbox.PENDING, seq)).fetchone()[0])

    async def stop(self) -> None:
        """Stop the relay and the publisher, then close lane.db; a task that crashed is reported."""
        for task in self._tasks:
            task.cancel()
        ended = await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._db is not None:
            self.last_seq = outbox.seqs_in_use(self._db.reader())[0]   # what lane.db holds, whatever was counted
            db, self._db = self._db, None
            await asyncio.to_thread(db.close)
        for outcome in ended:
            if isinstance(outcome, Exception):
                raise RuntimeError(f"{self.store_id}/{self.lane_id}: a sync task ended with {outcome!r}") from outcome


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    if seconds > 0:
        try:
            async with asyncio.timeout(seconds):
                await stop.wait()
        except TimeoutError:
            pass
