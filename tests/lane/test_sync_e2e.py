"""End to end over a real mosquitto and the reference ingest: sales and scans arrive once, confirmed, in order."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from agent.health import State
from agent.session.records.sales import record_sale
from agent.session.records.scans import record_scan
from agent.store import move_aside
from agent.sync.commands import CommandRouter
from agent.sync.mqtt import Handlers
from simulators.cloud.broker import MosquittoBroker
from simulators.doubles.waiting import wait_until
from simulators.fixtures.sync import IngestProcess
from simulators.lanes.sync import SyncLane, mqtt_section, running_lane
from simulators.lanes.writer import sale, scan
from simulators.trials.sync_checks import watch

pytestmark = [pytest.mark.broker, pytest.mark.timeout(60)]


def states(path: Path) -> dict[int, int]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
    finally:
        conn.close()


async def commit_until_awaiting(lane: SyncLane, bodies: list[dict[str, Any]],
                                record: Callable[[sqlite3.Connection, dict[str, Any]], object], awaiting: int) -> None:
    """Commit each body, wake the relay, and wait until `awaiting` rows are PUBACKed and wait for an ack."""
    for body in bodies:
        await lane.db.write(record, body)
    lane.relay.wake()
    await wait_until(lambda: lane.relay.probe()["awaiting_confirmation"] == awaiting, 10)


async def test_sales_and_scans_reach_the_ingest_once_and_are_confirmed_by_its_acks(
        mqtt_broker: MosquittoBroker, ingest: IngestProcess, tmp_path: Path) -> None:
    async with running_lane(tmp_path, mqtt_section(mqtt_broker.port)) as lane:
        for n in range(50):
            await lane.db.write(record_scan, scan(n))
            await lane.db.write(record_sale, sale(n))
            lane.relay.wake()
        await lane.wait_drained(20)
    report = ingest.report()
    assert report == {"events": 100, "max_seq": 100, "gaps": []}
    assert states(tmp_path / "lane.db") == {2: 100}


async def test_sales_drain_before_a_backlog_of_scans(mqtt_broker: MosquittoBroker, ingest: IngestProcess,
                                                     tmp_path: Path) -> None:
    async with running_lane(tmp_path, mqtt_section(mqtt_broker.port + 1)) as lane:   # nothing listens there
        for n in range(200):
            await lane.db.write(record_scan, scan(n))
        await lane.db.write(record_sale, sale(1))
    async with running_lane(tmp_path, mqtt_section(mqtt_broker.port, inflight_window=10)) as lane:
        await lane.wait_drained(20)
    conn = sqlite3.connect(ingest.db)
    first = conn.execute("SELECT schema FROM events ORDER BY received_at, rowid LIMIT 1").fetchone()[0]
    assert first == "omo.sale/1"
    assert ingest.report()["gaps"] == []


async def test_a_high_water_mark_of_another_stream_confirms_nothing(mqtt_broker: MosquittoBroker,
                                                                     tmp_path: Path) -> None:
    """An ingest still counting an earlier lane.db's seqs must not confirm this one's rows unsent."""
    async with running_lane(tmp_path, mqtt_section(mqtt_broker.port, confirm_timeout_s=60)) as lane:
        await commit_until_awaiting(lane, [sale(n) for n in range(2)], record_sale, 2)
        stream_id = lane.db.reader().execute("SELECT stream_id FROM outbox_lane").fetchone()[0]
        acks = "omo/v1/store-001/lane-01/acks"
        cloud = paho.Client(CallbackAPIVersion.VERSION2, client_id="cloud", protocol=MQTTProtocolVersion.MQTTv5)
        cloud.connect("127.0.0.1", mqtt_broker.port)
        cloud.loop_start()
        try:
            for body in ({"schema": "omo.ack/1", "stream_id": str(uuid.uuid4()), "seq_hwm": 2},   # an old stream
                         {"schema": "omo.ack/1", "seq_hwm": 2},                                   # no stream named
                         {"schema": "omo.ack/1", "stream_id": stream_id, "seq_hwm": 1}):          # ours, seq 1 only
                cloud.publish(acks, json.dumps(body), qos=1).wait_for_publish(5)
            await wait_until(lambda: states(tmp_path / "lane.db") == {2: 1, 0: 1}, 10)
        finally:
            cloud.loop_stop()
            cloud.disconnect()
        assert lane.relay.probe()["awaiting_confirmation"] == 1   # seq 2 still waits for its own ack


async def test_a_recreated_lane_db_starts_a_new_stream_and_both_reach_the_ingest_whole(
        mqtt_broker: MosquittoBroker, ingest: IngestProcess, tmp_path: Path) -> None:
    section = mqtt_section(mqtt_broker.port)
    for count in (5, 3):   # the second lane.db starts at seq 1 again, as after a corrupt one is moved aside
        async with running_lane(tmp_path, section) as lane:
            for n in range(count):
                await lane.db.write(record_sale, sale(n))
            lane.relay.wake()
            await lane.wait_drained(10)
        if count == 5:
            move_aside(tmp_path / "lane.db")
    streams = ingest.report_streams()
    assert sorted((r["events"], r["max_seq"], r["gaps"]) for r in streams.values()) == [(3, 3, []), (5, 5, [])]
    assert len(ingest.event_ids()) == 8


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy, as a backup tool or a disk image would take it."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


async def restore_from_backup(state: Path, port: int, before: int, after: int) -> None:
    """A lane sells `before` sales, its lane.db is backed up, it sells `after` more (all reach the ingest), and
    then lane.db is restored from the backup: back to seq `before`, with the ingest holding seqs beyond it."""
    await asyncio.to_thread(state.mkdir)
    backup = state.parent / "backup.db"
    for count, back_up in ((before, True), (after, False)):
        async with running_lane(state, mqtt_section(port)) as lane:
            for n in range(count):
                await lane.db.write(record_sale, sale(n))
            lane.relay.wake()
            await lane.wait_drained(20)
        if back_up:
            copy_database(state / "lane.db", backup)
    for suffix in ("", "-wal", "-shm"):
        (state / f"lane.db{suffix}").unlink(missing_ok=True)
    copy_database(backup, state / "lane.db")


async def test_a_lane_db_restored_from_an_older_copy_sends_every_new_event(
        mqtt_broker: MosquittoBroker, ingest: IngestProcess, tmp_path: Path) -> None:
    """The restored file reuses seqs the ingest already holds: its high-water mark must not confirm them unsent."""
    state = tmp_path / "lane"
    await restore_from_backup(state, mqtt_broker.port, before=5, after=200)
    assert ingest.report()["max_seq"] == 205
    async with running_lane(state, mqtt_section(mqtt_broker.port + 1)) as lane:   # offline: nothing listens
        new_ids = [(await lane.db.write(record_sale, sale(n)))[0] for n in range(100)]   # seqs 6 to 105 again
    async with running_lane(state, mqtt_section(mqtt_broker.port)) as lane:
        await lane.wait_drained(20)
        assert lane.relay_health.state is State.DEGRADED
        assert "another copy" in lane.relay_health.reason and "move lane.db aside" in lane.relay_health.reason
        assert lane.relay.probe()["seq_reused_up_to"] == 205
    missing = set(new_ids) - set(ingest.event_ids())
    assert not missing, f"{len(missing)} of 100 sales confirmed by an old high-water mark but never sent"


@pytest.fixture
def ack(mqtt_broker: MosquittoBroker) -> Iterator[Callable[..., None]]:
    """Publish an ack to lane-01 by hand, as an ingest would: `ack(stream_id=..., seq_hwm=..., event_ids=[...])`."""
    cloud = paho.Client(CallbackAPIVersion.VERSION2, client_id="cloud", protocol=MQTTProtocolVersion.MQTTv5)
    cloud.connect("127.0.0.1", mqtt_broker.port)
    cloud.loop_start()

    def publish(**body: object) -> None:
        cloud.publish("omo/v1/store-001/lane-01/acks", json.dumps({"schema": "omo.ack/1", **body}),
                      qos=1).wait_for_publish(5)

    yield publish
    cloud.loop_stop()
    cloud.disconnect()


def stream_of(lane: SyncLane) -> str:
    return str(lane.db.reader().execute("SELECT stream_id FROM outbox_lane").fetchone()[0])


async def test_a_restored_lane_db_that_wrote_past_the_ingests_mark_is_noticed_and_sends_every_new_event(
        mqtt_broker: MosquittoBroker, ingest: IngestProcess, tmp_path: Path) -> None:
    """Restored to seq 5 and then past the ingest's mark (105) offline: its own check cannot see the reuse, the
    ingest's report of a new event at a seq it held under another event ID does."""
    state = tmp_path / "lane"
    await restore_from_backup(state, mqtt_broker.port, before=5, after=100)
    async with running_lane(state, mqtt_section(mqtt_broker.port + 1)) as lane:   # offline: nothing listens
        new_ids = [(await lane.db.write(record_sale, sale(n)))[0] for n in range(200)]   # seqs 6 to 205
    async with running_lane(state, mqtt_section(mqtt_broker.port)) as lane:
        await lane.wait_drained(20)
        assert lane.relay_health.state is State.DEGRADED
        assert "another copy" in lane.relay_health.reason
        assert lane.relay.probe()["seq_reused_up_to"] == 105
    missing = set(new_ids) - set(ingest.event_ids())
    assert not missing, f"{len(missing)} of 200 sales confirmed but never stored"


async def test_seqs_another_copy_used_are_confirmed_only_by_event_id_even_after_a_restart(
        mqtt_broker: MosquittoBroker, tmp_path: Path, ack: Callable[..., None]) -> None:
    """An ack whose mark is beyond lane.db's last seq speaks of another copy's events, not of these rows."""
    async with running_lane(tmp_path, mqtt_section(mqtt_broker.port, confirm_timeout_s=60)) as lane:
        await commit_until_awaiting(lane, [sale(n) for n in range(2)], record_sale, 2)
        stream_id = stream_of(lane)
        ack(stream_id=stream_id, seq_hwm=1000, event_ids=[])   # this lane.db has written seqs 1 and 2 only
        await wait_until(lambda: lane.relay.probe()["seq_reused_up_to"] == 1000, 10)
        assert lane.relay.probe()["awaiting_confirmation"] == 2
        assert lane.relay_health.state is State.DEGRADED
    assert states(tmp_path / "lane.db") == {0: 2}, "a reused seq was confirmed by the mark alone"
    async with running_lane(tmp_path, mqtt_section(mqtt_broker.port, confirm_timeout_s=60)) as lane:
        await wait_until(lambda: lane.relay.probe()["awaiting_confirmation"] == 2, 10)   # sent again
        ack(stream_id=stream_id, seq_hwm=1000, event_ids=[])
        await asyncio.sleep(0.5)   # a window for a wrong confirmation to be written, were the mark trusted
        assert states(tmp_path / "lane.db") == {0: 2}, "the reuse was forgotten over the restart"
        named = [row[0] for row in lane.db.reader().execute("SELECT event_id FROM outbox ORDER BY seq")]
        ack(stream_id=stream_id, seq_hwm=1000, event_ids=named)
        await wait_until(lambda: states(tmp_path / "lane.db") == {2: 2}, 10)


async def test_rows_the_mark_confirmed_are_taken_back_when_the_ingest_reports_another_copy(
        mqtt_broker: MosquittoBroker, tmp_path: Path, ack: Callable[..., None]) -> None:
    """A mark within lane.db's own seqs confirms; an ingest that then reports seqs another copy wrote too
    (`seq_reused_up_to`) makes those rows pending again until it names them."""
    db = tmp_path / "lane.db"
    async with running_lane(tmp_path, mqtt_section(mqtt_broker.port, confirm_timeout_s=60)) as lane:
        await commit_until_awaiting(lane, [sale(n) for n in range(3)], record_sale, 3)
        ack(stream_id=stream_of(lane), seq_hwm=3, event_ids=[])
        await wait_until(lambda: states(db) == {2: 3}, 10)
        ack(stream_id=stream_of(lane), seq_hwm=3, seq_reused_up_to=2, event_ids=[])
        await wait_until(lambda: lane.relay.probe()["awaiting_confirmation"] == 2, 10)   # seqs 1 and 2 again
        assert states(db) == {0: 2, 2: 1}
        assert lane.relay_health.state is State.DEGRADED and "another copy" in lane.relay_health.reason
        assert lane.relay_health.counters["confirmations_taken_back"] == 2
        named = [row[0] for row in lane.db.reader().execute("SELECT event_id FROM outbox WHERE seq <= 2")]
        ack(stream_id=stream_of(lane), seq_hwm=3, seq_reused_up_to=2, event_ids=named)
        await wait_until(lambda: states(db) == {2: 3}, 10)


async def test_broker_mode_confirms_on_puback_without_an_ingest(mqtt_broker: MosquittoBroker, tmp_path: Path) -> None:
    section = dataclasses.replace(mqtt_section(mqtt_broker.port), delivery="broker")
    async with running_lane(tmp_path, section) as lane:
        await lane.db.write(record_sale, sale(1))
        lane.relay.wake()
        await lane.wait_drained(10)
    assert states(tmp_path / "lane.db") == {2: 1}


async def test_end_to_end_mode_keeps_a_row_unconfirmed_without_an_ingest_and_sends_it_again(
        mqtt_broker: MosquittoBroker, tmp_path: Path) -> None:
    async with running_lane(tmp_path, mqtt_section(mqtt_broker.port, confirm_timeout_s=1)) as lane:
        await lane.db.write(record_sale, sale(1))
        lane.relay.wake()
        await wait_until(lambda: lane.relay.probe()["awaiting_confirmation"] == 1, 10)   # PUBACKed, no ack
        assert states(tmp_path / "lane.db") == {0: 1}, "a PUBACK alone must not confirm in end-to-end mode"
        assert lane.relay.probe()["outbox_depth"]["sales"] == 1
        await wait_until(lambda: lane.relay_health.counters.get("resent_unconfirmed", 0) >= 2, 10)
        assert states(tmp_path / "lane.db") == {0: 1}


async def test_a_rewind_that_reads_only_claimed_rows_reads_on_to_the_new_one(mqtt_broker: MosquittoBroker,
                                                                               tmp_path: Path) -> None:
    # No ingest: every published row stays claimed (awaiting its ack). A rewind then re-reads them before it
    # reaches the new row, and a read bringing only claimed rows once ended the relay.
    async with running_lane(tmp_path, mqtt_section(mqtt_broker.port, inflight_window=10)) as lane:
        await commit_until_awaiting(lane, [scan(n) for n in range(150)], record_scan, 150)
        # wake() names no priority: back to the first pending row
        await commit_until_awaiting(lane, [scan(150)], record_scan, 151)


async def test_birth_is_retained_online_and_the_will_says_offline(mqtt_broker: MosquittoBroker,
                                                                  tmp_path: Path) -> None:
    async with running_lane(tmp_path, mqtt_section(mqtt_broker.port)) as lane:
        await asyncio.wait_for(lane.publisher.connected.wait(), 10)
        client, seen = watch(mqtt_broker, "omo/v1/store-001/lane-01/status")
        try:
            await wait_until(lambda: seen, 5)
            assert seen[0] == ("omo/v1/store-001/lane-01/status", b"online", True)
            lane.publisher._client._sock.close()   # type: ignore[union-attr]  # a crash: no DISCONNECT
            await wait_until(lambda: seen[-1][1] == b"offline", 15)
        finally:
            client.loop_stop()
            client.disconnect()


async def test_commands_run_once_per_command_id_and_catalog_deltas_reach_the_cache(
        mqtt_broker: MosquittoBroker, tmp_path: Path) -> None:
    closed: list[object] = []
    deltas: list[bytes] = []

    async def close_lane(args: object) -> None:
        closed.append(args)

    async def on_delta(payload: bytes) -> None:
        deltas.append(payload)

    routers: list[CommandRouter] = []   # made once lane.db is open; the publisher gets its handlers at construction

    async def on_command(payload: bytes) -> object:
        return await routers[0].handle(payload)

    handlers = Handlers(on_catalog_delta=on_delta, on_command=on_command)
    async with running_lane(tmp_path, mqtt_section(mqtt_broker.port), handlers=handlers) as lane:
        routers.append(CommandRouter(lane.db, {"lane.close": close_lane}))
        await asyncio.wait_for(lane.publisher.connected.wait(), 10)
        client, _ = watch(mqtt_broker, "nothing/here")
        command = json.dumps({"command_id": "c-1", "command": "lane.close", "args": {"reason": "night"}})
        for _ in range(3):
            client.publish("omo/v1/store-001/lane-01/commands", command, qos=1).wait_for_publish(5)
        client.publish("omo/v1/store-001/catalog", b'{"gtin": "04901234567894", "version": 18}', qos=1)
        await wait_until(lambda: deltas and closed, 10)
        await asyncio.sleep(0.3)   # a window for the repeated command to run again, were it not idempotent
        client.loop_stop()
        client.disconnect()
    assert closed == [{"reason": "night"}]
    assert deltas == [b'{"gtin": "04901234567894", "version": 18}']


async def test_a_sale_committed_during_a_scan_drain_overtakes_the_remaining_scans(
        mqtt_broker: MosquittoBroker, ingest: IngestProcess, tmp_path: Path) -> None:
    async with running_lane(tmp_path, mqtt_section(mqtt_broker.port + 1)) as lane:   # nothing listens there
        for n in range(3000):
            await lane.db.write(record_scan, scan(n))
    async with running_lane(tmp_path, mqtt_section(mqtt_broker.port, inflight_window=10)) as lane:
        await wait_until(lambda: ingest.report()["events"] >= 50, 20)
        await lane.db.write(record_sale, sale(1))
        lane.relay.wake(0)                      # a sale's priority: the cursor must go back for it
        await lane.wait_drained(60)
    conn = sqlite3.connect(ingest.db)
    order = [r[0] for r in conn.execute("SELECT schema FROM events ORDER BY received_at, rowid")]
    conn.close()
    assert order.index("omo.sale/1") < len(order) - 1000, "the sale waited behind the scan backlog"
    assert ingest.report()["gaps"] == []
