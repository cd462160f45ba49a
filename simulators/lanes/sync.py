"""One lane's sync stack (lane.db, Publisher, OutboxRelay) running in this process, for tests and benches."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from agent.health import ComponentHealth
from agent.lane_db import open_sync_db
from agent.store import Database
from agent.sync import outbox
from agent.sync.mqtt import Handlers, Publisher
from agent.sync.relay import OutboxRelay
from agent.sync.settings import MqttSection


@dataclass
class SyncLane:
    db: Database
    publisher: Publisher
    relay: OutboxRelay[Publisher]
    mqtt_health: ComponentHealth
    relay_health: ComponentHealth

    def unconfirmed(self) -> int:
        return int(sum(outbox.depth(self.db.reader())["outbox_depth"].values()))

    async def wait_drained(self, timeout_s: float) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                for _ in iter(self.unconfirmed, 0):   # polls the database: rows change on the writer thread
                    await asyncio.sleep(0.02)
        except TimeoutError:
            raise AssertionError(f"not drained within {timeout_s} s: {self.diagnosis()}") from None

    def diagnosis(self) -> dict[str, Any]:
        """What a stalled drain looks like from inside, for the failure message (reads private state)."""
        relay, publisher = self.relay, self.publisher
        pending = self.db.reader().execute("SELECT min(seq), max(seq), count(*) FROM outbox WHERE state = 0")
        return {"relay": relay.probe(), "relay_counters": self.relay_health.counters,
                "mqtt": {**publisher.probe(), "connected": publisher.connected.is_set(),
                         "counters": self.mqtt_health.counters, "state": self.mqtt_health.state},
                "pending_seq_min_max_count": pending.fetchone(), "cursor": relay._pending.cursor,
                "claimed": len(relay._claimed), "released": len(relay.book.released),
                "hwm_received_written": (relay.book.hwm, relay.book.hwm_written)}


def mqtt_section(port: int, **overrides: Any) -> MqttSection:
    """A test section: short keepalive and confirm timeout so faults are noticed within seconds."""
    base = MqttSection(host="127.0.0.1", port=port, keepalive_s=5, confirm_timeout_s=2,
                       client_id="omo-edge-store-001-lane-01")
    return dataclasses.replace(base, **overrides)


@contextlib.asynccontextmanager
async def running_lane(state_dir: Path, section: MqttSection, store_id: str = "store-001",
                       lane_id: str = "lane-01", handlers: Handlers | None = None) -> AsyncIterator[SyncLane]:
    db = await asyncio.to_thread(open_sync_db, state_dir / "lane.db", store_id, lane_id)
    relay = OutboxRelay(db, partial(Publisher, section, store_id, lane_id), handlers=handlers,
                        delivery=section.delivery, window=section.inflight_window,
                        confirm_timeout_s=section.confirm_timeout_s, retention_days=section.retention_days,
                        max_publish_rate=section.max_publish_rate)
    publisher = relay.publisher
    lane = SyncLane(db, publisher, relay, ComponentHealth("mqtt", probe=publisher.probe),
                    ComponentHealth("relay", probe=relay.probe))
    tasks = [asyncio.create_task(publisher.run(lane.mqtt_health)), asyncio.create_task(relay.run(lane.relay_health))]
    try:
        yield lane
    finally:
        for task in tasks:
            task.cancel()
        ended = await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.to_thread(db.close)
        # The daemon's supervisor would restart a crashed relay or publisher; a test must not miss the crash.
        for outcome in ended:
            if isinstance(outcome, Exception):
                raise RuntimeError(f"a lane task ended with an error: {outcome!r}") from outcome
