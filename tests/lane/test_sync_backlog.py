"""A backlog of 100,000 events accumulated offline drains completely once the broker is reachable."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from agent.lane_db import open_sync_db
from agent.session.records.sales import record_sale
from agent.session.records.scans import record_scan
from simulators.cloud.broker import MosquittoBroker
from simulators.fixtures.sync import IngestProcess
from simulators.lanes.sync import mqtt_section, running_lane
from simulators.lanes.writer import sale, scan
from simulators.trials.sync_checks import assert_all_delivered_once

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(240)]

EVENTS = 100_000


def record_offline(conn: sqlite3.Connection, start: int, count: int) -> None:
    for n in range(start, start + count):
        if n % 10 == 0:
            record_sale(conn, sale(n))
        else:
            record_scan(conn, scan(n))


def test_a_100k_event_offline_backlog_drains_completely(mqtt_broker: MosquittoBroker, ingest: IngestProcess,
                                                        tmp_path: Path) -> None:
    db = open_sync_db(tmp_path / "lane.db", "store-001", "lane-01")
    for start in range(0, EVENTS, 10_000):
        db.write_blocking(record_offline, start, 10_000)
    db.close()
    started = time.monotonic()

    async def drain() -> None:
        async with running_lane(tmp_path, mqtt_section(mqtt_broker.port, confirm_timeout_s=30)) as lane:
            await lane.wait_drained(180)

    import asyncio

    asyncio.run(drain())
    elapsed = time.monotonic() - started
    assert_all_delivered_once(tmp_path / "lane.db", ingest)
    # On a clean link nothing acked is ever published again: confirmations are applied in memory as acks
    # arrive, before their (batched) write, so the drain cursor never sees an acked row as pending.
    assert ingest.duplicates() == 0
    print(f"drained {EVENTS} events in {elapsed:.1f} s ({EVENTS / elapsed:.0f} events/s)")
