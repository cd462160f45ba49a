"""The outbox table: rows commit with their state, seq is gap-free across rollbacks and restarts, order, pruning."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from agent.errors import StoreError
from agent.lane_db import open_sync_db
from agent.session.records import sales, scans
from agent.session.records.sales import record_sale
from agent.session.records.scans import record_scan
from agent.store import Database
from agent.sync import commands, outbox
from simulators.lanes.writer import sale, scan


@pytest.fixture
def lane_db(tmp_path: Path) -> Database:
    db = open_sync_db(tmp_path / "lane.db", "store-001", "lane-01")
    yield db  # type: ignore[misc]
    db.close()


def payloads(db: Database) -> list[dict[str, object]]:
    return [json.loads(p) for (p,) in db.reader().execute("SELECT payload FROM outbox ORDER BY seq")]


def test_enqueue_outside_a_transaction_is_refused(lane_db: Database) -> None:
    with pytest.raises(StoreError, match="inside the caller's write transaction"):
        lane_db.call(lambda: outbox.enqueue(lane_db._connection(), "scans", "omo.scan/1", {}))


def test_a_rolled_back_sale_takes_its_outbox_row_and_its_seq_with_it(lane_db: Database) -> None:
    lane_db.write_blocking(record_sale, sale(1))

    def sale_then_failure(conn: sqlite3.Connection) -> None:
        record_sale(conn, sale(2))
        raise RuntimeError("payment declined after the insert")

    with pytest.raises(RuntimeError):
        lane_db.write_blocking(sale_then_failure)
    lane_db.write_blocking(record_sale, sale(3))
    assert [p["seq"] for p in payloads(lane_db)] == [1, 2]
    assert lane_db.reader().execute("SELECT count(*) FROM sales").fetchone()[0] == 2


def test_seq_continues_after_a_restart(tmp_path: Path) -> None:
    for _ in range(2):
        db = open_sync_db(tmp_path / "lane.db", "store-001", "lane-01")
        db.write_blocking(record_scan, scan(1))
        db.close()
    db = open_sync_db(tmp_path / "lane.db", "store-001", "lane-01")
    assert [p["seq"] for p in payloads(db)] == [1, 2]
    db.close()


def test_every_payload_carries_the_envelope(lane_db: Database) -> None:
    lane_db.write_blocking(record_scan, scan(1))
    (payload,) = payloads(lane_db)
    assert {"schema", "event_id", "store_id", "lane_id", "seq", "occurred_at"} <= set(payload)
    assert payload["schema"] == "omo.scan/1" and payload["store_id"] == "store-001"


def test_sales_drain_before_pickups_before_scans(lane_db: Database) -> None:
    lane_db.write_blocking(record_scan, scan(1))
    lane_db.write_blocking(lambda c: outbox.enqueue(c, "sessions", "omo.pickup/1", {"order_id": "o-1"}))
    lane_db.write_blocking(record_sale, sale(1))
    rows = outbox.pending(lane_db.reader(), (-1, 0), 10)
    assert [r.topic_class for r in rows] == ["sales", "sessions", "scans"]


def test_confirmed_rows_are_pruned_after_retention_and_unconfirmed_never(lane_db: Database) -> None:
    for n in range(3):
        lane_db.write_blocking(record_sale, sale(n))
    ids = [r.id for r in outbox.pending(lane_db.reader(), (-1, 0), 10)]
    lane_db.write_blocking(outbox.apply_marks, ids[:2], [], 0, True)
    assert lane_db.write_blocking(outbox.prune, 1.0) == 0
    assert lane_db.write_blocking(outbox.prune, 0.0) == 2
    assert outbox.depth(lane_db.reader())["outbox_depth"]["sales"] == 1


def test_a_seq_high_water_mark_is_recorded_but_confirms_only_the_rows_named(lane_db: Database) -> None:
    # A lane.db restored from an older copy writes seqs the ingest already holds: a mark applied by range
    # would confirm those rows unsent. The relay names the rows it published and the mark covers.
    for n in range(5):
        lane_db.write_blocking(record_scan, scan(n))
    ids = [r.id for r in outbox.pending(lane_db.reader(), (-1, 0), 10)]
    lane_db.write_blocking(outbox.apply_marks, ids[:2], [], 3, True)
    states = [s for (s,) in lane_db.reader().execute("SELECT state FROM outbox ORDER BY seq")]
    assert states == [2, 2, 0, 0, 0]
    assert outbox.ack_hwm(lane_db.reader()) == 3
    lane_db.write_blocking(outbox.apply_marks, [], [], 2, False)   # an older ack arriving late
    assert outbox.ack_hwm(lane_db.reader()) == 3


def test_shedding_drops_scans_only_and_accounts_for_every_seq(lane_db: Database) -> None:
    for n in range(10):
        lane_db.write_blocking(record_scan, scan(n))
        if n % 4 == 3:
            lane_db.write_blocking(record_sale, sale(n))
    dropped = lane_db.write_blocking(outbox.shed)
    rows = payloads(lane_db)
    assert dropped > 0
    assert [p["schema"] for p in rows].count("omo.sale/1") == 2
    assert {p["schema"] for p in rows} == {"omo.sale/1", "omo.shed/1"} | ({"omo.scan/1"} & {p["schema"] for p in rows})
    covered = {s for p in rows for s in range(int(p["seq"]), int(p.get("seq_end", p["seq"])) + 1)}  # type: ignore[call-overload]
    assert covered == set(range(1, 13))


def test_a_lane_db_from_before_the_stream_and_in_memory_sent_state_upgrades(tmp_path: Path) -> None:
    """An older lane.db (outbox m001 only) with a row left SENT: it is pending again and the file gets a stream."""
    migrations = {"outbox": outbox.MIGRATIONS[:1], "sales": sales.MIGRATIONS, "scans": scans.MIGRATIONS,
                  "remote": commands.MIGRATIONS}
    old = Database.open(tmp_path / "lane.db", migrations)
    old.write_blocking(lambda c: c.execute("UPDATE outbox_lane SET store_id = 's', lane_id = 'l', last_seq = 1"))
    old.write_blocking(lambda c: c.execute(
        "INSERT INTO outbox (priority, topic_class, schema, event_id, seq, payload, created_at, state, sent_at) "
        "VALUES (0, 'sales', 'omo.sale/1', 'e-1', 1, x'7b7d', 0, 1, 0)"))
    old.close()
    db = open_sync_db(tmp_path / "lane.db", "store-001", "lane-01")
    try:
        reader = db.reader()
        assert [r.event_id for r in outbox.pending(reader, (-1, 0), 10)] == ["e-1"]
        assert len(outbox.stream_id(reader)) == 36
        assert not reader.execute("SELECT 1 FROM sqlite_master WHERE name = 'outbox_sent'").fetchall()
        _, seq = db.write_blocking(record_sale, sale(2))
        assert seq == 2 and payloads(db)[1]["stream_id"] == outbox.stream_id(reader)
    finally:
        db.close()
