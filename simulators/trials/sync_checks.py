"""Shared steps of the sync tests: a stream of sales and scans, and the final check against the ingest."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from agent.session.records.sales import record_sale
from agent.session.records.scans import record_scan
from simulators.cloud.broker import MosquittoBroker
from simulators.fixtures.sync import IngestProcess
from simulators.lanes.sync import SyncLane
from simulators.lanes.writer import sale, scan


async def stream(lane: SyncLane, stop: asyncio.Event, pause_s: float = 0.005) -> int:
    """Record a scan and a sale every `pause_s` until `stop`; returns how many sales were committed."""
    n = 0
    while not stop.is_set():
        n += 1
        await lane.db.write(record_scan, scan(n))
        await lane.db.write(record_sale, sale(n))
        lane.relay.wake()
        await asyncio.sleep(pause_s)
    return n


def assert_all_delivered_once(db_path: Path, ingest: IngestProcess) -> None:
    """Every sale in lane.db is in the ingest exactly once; every seq is there; nothing else is."""
    conn = sqlite3.connect(db_path)
    try:
        committed = {r[0] for r in conn.execute("SELECT event_id FROM sales")}
        last_seq = conn.execute("SELECT last_seq FROM outbox_lane").fetchone()[0]
    finally:
        conn.close()
    held = ingest.event_ids("omo.sale/1")
    assert len(held) == len(set(held)) and set(held) == committed
    assert ingest.report() == {"events": last_seq, "max_seq": last_seq, "gaps": []}


def watch(broker: MosquittoBroker, topic: str) -> tuple[paho.Client, list[tuple[str, bytes, bool]]]:
    """Subscribe a bystander client to `topic`; each message lands in the list as (topic, payload, retained).
    Call `client.loop_stop()` and `client.disconnect()` when done."""
    seen: list[tuple[str, bytes, bool]] = []
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"watch-{uuid.uuid4()}",
                         protocol=MQTTProtocolVersion.MQTTv5)
    client.on_message = lambda c, u, m: seen.append((m.topic, bytes(m.payload), bool(m.retain)))
    client.connect("127.0.0.1", broker.port)
    client.subscribe(topic, 1)
    client.loop_start()
    return client, seen
