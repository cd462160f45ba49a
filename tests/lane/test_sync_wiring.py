"""start_sync wires the disk guard always, and the publisher and relay when [mqtt] is configured."""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path

import pytest

from agent.config import AgentSection
from agent.health import ComponentHealth, HealthRegistry, State
from agent.lane_db import open_sync_db
from agent.session.records.sales import record_sale
from agent.supervise import Supervisor
from agent.sync.components import start_sync
from agent.sync.mqtt import Publisher
from agent.sync.relay import OutboxRelay
from simulators.cloud.broker import MosquittoBroker
from simulators.doubles.ports import free_port
from simulators.doubles.waiting import wait_until
from simulators.fixtures.sync import IngestProcess
from simulators.lanes.sync import mqtt_section
from simulators.lanes.writer import sale


@pytest.mark.broker
@pytest.mark.timeout(60)
async def test_start_sync_runs_disk_mqtt_and_relay_and_a_sale_is_confirmed(
        mqtt_broker: MosquittoBroker, ingest: IngestProcess, tmp_path: Path) -> None:
    agent = AgentSection(store_id="store-001", lane_id="lane-01", state_dir=tmp_path)
    db = await asyncio.to_thread(open_sync_db, tmp_path / "lane.db", "store-001", "lane-01")
    health = HealthRegistry("test")
    supervisor = Supervisor(health)
    try:
        sync = start_sync(agent, mqtt_section(mqtt_broker.port), db, supervisor)
        await db.write(record_sale, sale(1), sync.guard)
        sync.wake()
        await wait_until(lambda: health.component("relay").snapshot()["details"]["outbox_depth"]["sales"] == 0, 15)
        snapshot = health.snapshot()["components"]
        assert snapshot["mqtt"]["state"] == State.OK and snapshot["disk"]["state"] == State.OK
        assert snapshot["relay"]["details"]["last_ack_at"] is not None
        assert "wal_bytes" in snapshot["disk"]["details"]
    finally:
        await supervisor.stop_all()
        await asyncio.to_thread(db.close)


async def test_the_relay_stops_on_cancel_even_when_a_wake_up_lands_in_the_same_turn(tmp_path: Path) -> None:
    """A cancel must never be swallowed: the app stops components by cancelling them once.

    Python 3.11's asyncio.wait_for returned the result when a cancel arrived just after the awaited wake-up had
    completed; the relay then looped on and never ended (seen in CI as a lane whose cleanup hung).
    """
    db = await asyncio.to_thread(open_sync_db, tmp_path / "lane.db", "store-001", "lane-01")
    relay = OutboxRelay(db, partial(Publisher, mqtt_section(free_port()), "store-001", "lane-01"))   # never connects
    try:
        for attempt in range(50):
            task = asyncio.create_task(relay.run(ComponentHealth("relay")))
            await asyncio.sleep(0.01)   # parked, waiting for a wake-up
            relay.wake()
            await asyncio.sleep(0)      # the wake-up completes; the relay has not resumed yet
            task.cancel()
            done, _ = await asyncio.wait([task], timeout=2)
            assert done, f"the relay swallowed its cancel (attempt {attempt})"
    finally:
        await asyncio.to_thread(db.close)
