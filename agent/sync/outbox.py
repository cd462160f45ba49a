"""The transactional outbox in lane.db: rows written with the state they report, drained by the relay.

Why a table and not a queue: a broker's PUBACK only means "in the broker's memory" and paho keeps
in-flight messages in memory only, so the outbox row is the one durable copy until the cloud's ingest
acknowledges it (docs/sync.md).

Row states: PENDING (to publish) -> CONFIRMED (by the ingest's ack; in "broker" delivery mode, by the
PUBACK). Between the two, "published and waiting for the ack" lives in the relay's memory only: after a
restart or a reconnect those rows are sent again anyway, so writing that state cost a commit per batch for
nothing. SENT (1) was written by earlier agents; migration m002 turned such rows back to PENDING.

`seq` is per lane, starts at 1, is gap-free and survives restarts because it is taken from
`outbox_lane.last_seq` inside the caller's transaction: a rolled-back sale rolls its seq back too.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agent.clock import SYSTEM_CLOCK, Clock, rfc3339_ms
from agent.errors import StoreError
from agent.store import Migration
from agent.sync.event_ids import new_event_id

PENDING, CONFIRMED = 0, 2   # 1 was SENT, kept in memory since migration m002

# schema -> (topic class, priority). Lower priority drains first: money, then pickups, then the rest.
# Only SHEDDABLE priorities may be dropped when the disk is nearly full (scans and interest events).
SCHEMAS: Mapping[str, tuple[str, int]] = {
    "omo.sale/1": ("sales", 0),
    "omo.payment/1": ("sales", 0),
    "omo.receipt/1": ("sales", 0),      # the member's receipt: with the sale it belongs to, never shed
    "omo.pickup/1": ("sessions", 1),
    "omo.session/1": ("sessions", 2),
    "omo.attendant/1": ("sessions", 2),
    "omo.audit/1": ("sessions", 2),
    "omo.weights/1": ("sessions", 2),
    "omo.scan/1": ("scans", 3),
    "omo.interest/1": ("scans", 3),
    "omo.shed/1": ("scans", 3),
}
CLASS_NAMES = {0: "sales", 1: "pickups", 2: "sessions", 3: "scans"}
SHEDDABLE = 3


def _add_stream_id(conn: sqlite3.Connection) -> None:
    """Name this database's event stream: seq counts within it.

    Why: a lane.db moved aside as corrupt is replaced by a fresh one whose seq starts at 1 again, and the
    ingest's high-water mark for the lane is still the old stream's. Taken as is, it would "confirm" the new
    stream's first sales before they were ever sent. The relay applies a high-water mark only when the ack
    names this stream; the ingest tracks seq per stream.
    """
    conn.execute("ALTER TABLE outbox_lane ADD COLUMN stream_id TEXT NOT NULL DEFAULT ''")
    conn.execute("UPDATE outbox_lane SET stream_id = ? WHERE id = 1", (str(uuid.uuid4()),))


MIGRATIONS = [
    Migration("m001_outbox", """
        CREATE TABLE outbox_lane (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            store_id TEXT NOT NULL, lane_id TEXT NOT NULL, last_seq INTEGER NOT NULL DEFAULT 0,
            last_ack_at REAL, ack_hwm INTEGER NOT NULL DEFAULT 0);
        INSERT INTO outbox_lane (id, store_id, lane_id) VALUES (1, '', '');
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            priority INTEGER NOT NULL,
            topic_class TEXT NOT NULL,
            schema TEXT NOT NULL,
            event_id TEXT NOT NULL UNIQUE,
            seq INTEGER NOT NULL UNIQUE,
            payload BLOB NOT NULL,
            created_at REAL NOT NULL,
            state INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            sent_at REAL,
            confirmed_at REAL);
        CREATE INDEX outbox_pending ON outbox (priority, id) WHERE state = 0;
        CREATE INDEX outbox_sent ON outbox (sent_at) WHERE state = 1;
        CREATE INDEX outbox_confirmed ON outbox (confirmed_at) WHERE state = 2;
    """),
    # The relay keeps "published, waiting for the ack" in memory since this step; rows an earlier agent left
    # SENT go again. Unconfirmed is then state 0 alone, which the partial index outbox_pending covers.
    Migration("m002_sent_state_in_memory", """
        UPDATE outbox SET state = 0 WHERE state = 1;
        DROP INDEX outbox_sent;
    """),
    Migration("m003_stream_id", _add_stream_id),
    # Seqs up to this one were also used by another copy of this lane.db (restored from an older copy, or
    # copied to another lane): the ingest's high-water mark says nothing about this file's events there.
    Migration("m004_seq_reused", """
        ALTER TABLE outbox_lane ADD COLUMN seq_reused_up_to INTEGER NOT NULL DEFAULT 0;
    """),
]


@dataclass(frozen=True, slots=True)
class Row:
    """One outbox row as the relay needs it."""

    id: int
    priority: int
    topic_class: str
    event_id: str
    seq: int
    payload: bytes


def set_identity(conn: sqlite3.Connection, store_id: str, lane_id: str) -> None:
    """Record which store and lane this database belongs to (called at start, in a write)."""
    conn.execute("UPDATE outbox_lane SET store_id = ?, lane_id = ? WHERE id = 1", (store_id, lane_id))


def enqueue(conn: sqlite3.Connection, topic_class: str, schema: str, body: Mapping[str, Any],
            clock: Clock = SYSTEM_CLOCK, *, event_id: str | None = None) -> tuple[str, int]:
    """Add one event; call inside the caller's write transaction so it commits with the state it reports.

    Returns (event_id, seq). The envelope (schema, event_id, store_id, lane_id, stream_id, seq, occurred_at) is added
    here; `body` may carry its own `occurred_at` (RFC 3339) and must not carry the other envelope keys.
    `event_id` is for a caller whose records must name the event before it is written (a pickup claim's ID is
    its `processing` event's ID); it must come from `new_event_id()`.
    """
    if not conn.in_transaction:
        raise StoreError("outbox.enqueue must run inside the caller's write transaction (use Database.write)")
    expected = SCHEMAS.get(schema)
    if expected is None or expected[0] != topic_class:
        raise StoreError(f"unknown schema/topic {schema!r}/{topic_class!r}; add it to outbox.SCHEMAS and asyncapi")
    store_id, lane_id, stream_id, seq = conn.execute(
        "UPDATE outbox_lane SET last_seq = last_seq + 1 WHERE id = 1 RETURNING store_id, lane_id, stream_id, last_seq"
    ).fetchone()
    if not store_id:
        raise StoreError("outbox identity not set; call outbox.set_identity at start (open_sync_db does)")
    event_id = event_id or new_event_id()
    payload = {"schema": schema, "event_id": event_id, "store_id": store_id, "lane_id": lane_id,
               "stream_id": stream_id, "seq": seq,
               "occurred_at": body.get("occurred_at") or rfc3339_ms(clock.now()), **body}
    conn.execute("INSERT INTO outbox (priority, topic_class, schema, event_id, seq, payload, created_at) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?)",
                 (expected[1], topic_class, schema, event_id, seq,
                  json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode(), clock.time()))
    return event_id, seq


def pending(conn: sqlite3.Connection, after: tuple[int, int], limit: int) -> list[Row]:
    """Pending rows after the (priority, id) cursor, in drain order; a reader connection is enough."""
    rows = conn.execute(
        "SELECT id, priority, topic_class, event_id, seq, payload FROM outbox INDEXED BY outbox_pending "
        "WHERE state = 0 AND (priority > ? OR (priority = ? AND id > ?)) ORDER BY priority, id LIMIT ?",
        (after[0], after[0], after[1], limit)).fetchall()
    return [Row(*r) for r in rows]


def apply_marks(conn: sqlite3.Connection, confirmed_ids: Sequence[int], confirmed_events: Sequence[str],
                hwm: int, acked: bool, seq_reused_up_to: int = 0, taken_back: Sequence[int] = (),
                clock: Clock = SYSTEM_CLOCK) -> None:
    """Record a batch of confirmations in one transaction (one commit for many messages).

    Each kind of mark is one set-based statement over a JSON array, not an `executemany`: the sqlite3
    module takes the GIL back for every row of an executemany, and while the relay's loop thread is busy
    with paho each of those hand-overs waits up to a switch interval, so a 500-row batch could hold the
    single writer (and the sale queued behind it) for tens of milliseconds.
    """
    now = clock.time()
    if taken_back:   # first: a row both taken back and named by the ingest in this batch ends confirmed
        conn.execute("UPDATE outbox SET state = 0, confirmed_at = NULL "
                     "WHERE id IN (SELECT value FROM json_each(?)) AND state = 2", (json.dumps(list(taken_back)),))
    if hwm:
        # Recorded for health, never applied to rows by range: a lane.db restored from an older copy writes
        # seqs again that the ingest already holds (other events), and a range would confirm them unsent. The
        # relay turns the mark into the ids of rows it published itself.
        conn.execute("UPDATE outbox_lane SET ack_hwm = max(ack_hwm, ?) WHERE id = 1", (hwm,))
    if seq_reused_up_to:
        conn.execute("UPDATE outbox_lane SET seq_reused_up_to = max(seq_reused_up_to, ?) WHERE id = 1",
                     (seq_reused_up_to,))
    if confirmed_ids:
        conn.execute("UPDATE outbox SET state = 2, confirmed_at = ? "
                     "WHERE id IN (SELECT value FROM json_each(?)) AND state = 0",
                     (now, json.dumps(list(confirmed_ids))))
    if confirmed_events:
        conn.execute("UPDATE outbox SET state = 2, confirmed_at = ? "
                     "WHERE event_id IN (SELECT value FROM json_each(?)) AND state = 0",
                     (now, json.dumps(list(confirmed_events))))
    if acked:
        conn.execute("UPDATE outbox_lane SET last_ack_at = ? WHERE id = 1", (now,))


def prune(conn: sqlite3.Connection, retention_days: float, limit: int = 5000, clock: Clock = SYSTEM_CLOCK) -> int:
    """Delete confirmed rows older than the retention period, a bounded batch at a time."""
    cutoff = clock.time() - retention_days * 86400
    return conn.execute("DELETE FROM outbox WHERE id IN (SELECT id FROM outbox INDEXED BY outbox_confirmed "
                        "WHERE state = 2 AND confirmed_at < ? LIMIT ?)", (cutoff, limit)).rowcount


def shed(conn: sqlite3.Connection, limit: int = 10000, clock: Clock = SYSTEM_CLOCK) -> int:
    """Drop the oldest unconfirmed scan/interest rows to save the disk; never sales, payments or sessions.

    The dropped range is replaced by one `omo.shed/1` row that keeps the first seq and names the last
    (`seq_end`), so the ingest sees every seq accounted for and knows the gap was a policy, not a loss.
    """
    rows = conn.execute("SELECT id, seq, event_id FROM outbox WHERE state = 0 AND priority = ? AND schema != "
                        "'omo.shed/1' ORDER BY seq LIMIT ?", (SHEDDABLE, limit)).fetchall()
    runs = _contiguous(rows)
    for first, last, ids in runs:
        conn.executemany("DELETE FROM outbox WHERE id = ?", ((i,) for i in ids))
        store_id, lane_id, stream_id = conn.execute(
            "SELECT store_id, lane_id, stream_id FROM outbox_lane WHERE id = 1").fetchone()
        event_id = new_event_id()
        body = {"schema": "omo.shed/1", "event_id": event_id, "store_id": store_id, "lane_id": lane_id,
                "stream_id": stream_id, "seq": first, "seq_end": last, "occurred_at": rfc3339_ms(clock.now()),
                "reason": "disk nearly full", "count": len(ids)}
        conn.execute("INSERT INTO outbox (priority, topic_class, schema, event_id, seq, payload, created_at) "
                     "VALUES (?, 'scans', 'omo.shed/1', ?, ?, ?, ?)",
                     (SHEDDABLE, event_id, first, json.dumps(body, separators=(",", ":")).encode(), clock.time()))
    return sum(len(ids) for _, _, ids in runs)


def _contiguous(rows: Iterable[tuple[int, int, str]]) -> list[tuple[int, int, list[int]]]:
    """Group rows into runs of seqs with no row of another class between them (those must stay)."""
    runs: list[tuple[int, int, list[int]]] = []
    for row_id, seq, _ in rows:
        if runs and runs[-1][1] == seq - 1:
            first, _, ids = runs[-1]
            runs[-1] = (first, seq, [*ids, row_id])
        else:
            runs.append((seq, seq, [row_id]))
    return [run for run in runs if len(run[2]) > 1]


def ack_hwm(conn: sqlite3.Connection) -> int:
    """The ingest's seq high-water mark as last written (health, and the relay's start): rows are confirmed
    by id, never by this mark, since a restored copy of lane.db may reuse seqs (see `apply_marks`)."""
    return int(conn.execute("SELECT ack_hwm FROM outbox_lane WHERE id = 1").fetchone()[0])


def seqs_in_use(conn: sqlite3.Connection) -> tuple[int, int]:
    """(last seq written, seq reused up to): an ingest holding seqs beyond the first holds another copy's."""
    last_seq, reused = conn.execute("SELECT last_seq, seq_reused_up_to FROM outbox_lane WHERE id = 1").fetchone()
    return int(last_seq), int(reused)


def stream_id(conn: sqlite3.Connection) -> str:
    """This database's event stream (migration m003): acks' high-water marks count in it."""
    return str(conn.execute("SELECT stream_id FROM outbox_lane WHERE id = 1").fetchone()[0])


def depth(conn: sqlite3.Connection, clock: Clock = SYSTEM_CLOCK) -> dict[str, Any]:
    """Unconfirmed rows per class, the oldest unconfirmed sale's age and the last ack time (for health)."""
    per_class = dict.fromkeys(CLASS_NAMES.values(), 0)
    for priority, count in conn.execute("SELECT priority, count(*) FROM outbox INDEXED BY outbox_pending "
                                        "WHERE state = 0 GROUP BY priority"):
        per_class[CLASS_NAMES.get(priority, str(priority))] = count
    # Rows are created in id order: the first pending sale by the index is the oldest, without reading the rest.
    first = conn.execute("SELECT created_at FROM outbox INDEXED BY outbox_pending WHERE state = 0 AND priority = 0 "
                         "ORDER BY id LIMIT 1").fetchone()
    oldest = first[0] if first else None
    last_seq, last_ack, hwm, reused = conn.execute(
        "SELECT last_seq, last_ack_at, ack_hwm, seq_reused_up_to FROM outbox_lane WHERE id = 1").fetchone()
    return {"outbox_depth": per_class,
            "oldest_unconfirmed_sale_age_s": round(clock.time() - oldest, 3) if oldest else None,
            "last_ack_at": rfc3339_ms(datetime.fromtimestamp(last_ack, UTC)) if last_ack else None,
            "last_seq": last_seq, "ack_seq_hwm": hwm, "seq_reused_up_to": reused}


def oldest_ages(conn: sqlite3.Connection, clock: Clock = SYSTEM_CLOCK) -> dict[str, float | None]:
    """Seconds the oldest unconfirmed row of each class has waited (None: none waits), for the metrics.

    One indexed lookup per class: rows are created in id order, so the first pending row is the oldest.
    """
    ages: dict[str, float | None] = {}
    for priority, name in CLASS_NAMES.items():
        first = conn.execute("SELECT created_at FROM outbox INDEXED BY outbox_pending WHERE state = 0 AND priority = ? "
                             "ORDER BY id LIMIT 1", (priority,)).fetchone()
        ages[name] = None if first is None else max(0.0, clock.time() - first[0])
    return ages
