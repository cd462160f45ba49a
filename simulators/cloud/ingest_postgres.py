"""The reference ingest's PostgreSQL store: several ingest processes, one database, marks kept in the database.

One transaction per batch, in this order (docs/sync.md, "Ingest on PostgreSQL"):
1. insert the events, sorted by event_id, `ON CONFLICT (event_id) DO NOTHING RETURNING event_id`: the
   unique key de-duplicates, RETURNING says which were new. The sort gives every process the same lock
   order on the key, so two processes inserting the same resent events wait for each other, never deadlock;
2. lock the batch's streams' rows in `lane_marks` (an upsert, sorted, so a new stream gets its row too);
   with those locks held, no other process can advance these marks until this one commits;
3. read every row above each mark, committed by any process (read committed: this statement sees what
   the process that held the lock before committed), and advance the mark over the contiguous seqs;
4. write the marks and commit. The process that commits last has seen every committed row of its
   streams, so a mark always stands for the contiguous seqs of committed rows: any process can ack it.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import errors

from simulators.cloud.ingest_sqlite import coverage
from simulators.cloud.ingest_store import Event, Mark, Stream

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY, store_id TEXT NOT NULL, lane_id TEXT NOT NULL, seq BIGINT NOT NULL,
    seq_end BIGINT NOT NULL, schema TEXT NOT NULL, payload TEXT NOT NULL, received_at DOUBLE PRECISION NOT NULL,
    stream_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_lane_seq ON events (store_id, lane_id, stream_id, seq);
CREATE TABLE IF NOT EXISTS lane_marks (
    store_id TEXT NOT NULL, lane_id TEXT NOT NULL, stream_id TEXT NOT NULL,
    seq_hwm BIGINT NOT NULL DEFAULT 0, seq_reused_up_to BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (store_id, lane_id, stream_id));
CREATE TABLE IF NOT EXISTS ingest_stats (
    ingest_id TEXT PRIMARY KEY, events BIGINT NOT NULL DEFAULT 0, duplicates BIGINT NOT NULL DEFAULT 0);
"""
COLUMNS = "event_id, store_id, lane_id, seq, seq_end, schema, payload, received_at, stream_id"
ARRAYS = "%b::text[], %b::text[], %b::text[], %b::bigint[], %b::bigint[], %b::text[], %b::text[], " \
         "%b::float8[], %b::text[]"
# Arrays go as binary parameters (%b): in text format psycopg escapes every element with a regex (the JSON
# payloads cost 6x the CPU that way).
INSERT_UNNEST = f"INSERT INTO events ({COLUMNS}) SELECT * FROM unnest({ARRAYS}) " \
                "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
INSERT_ROW = f"INSERT INTO events ({COLUMNS}) VALUES ({', '.join(['%s'] * 9)}) " \
             "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
LOCK_MARKS = """
INSERT INTO lane_marks (store_id, lane_id, stream_id) SELECT * FROM unnest(%b::text[], %b::text[], %b::text[])
ON CONFLICT (store_id, lane_id, stream_id) DO UPDATE SET seq_hwm = lane_marks.seq_hwm
RETURNING store_id, lane_id, stream_id, seq_hwm, seq_reused_up_to"""
ROWS_ABOVE = """
SELECT e.store_id, e.lane_id, e.stream_id, e.seq, e.seq_end, e.event_id
FROM unnest(%b::text[], %b::text[], %b::text[], %b::bigint[]) AS m(store_id, lane_id, stream_id, hwm)
JOIN events e ON e.store_id = m.store_id AND e.lane_id = m.lane_id AND e.stream_id = m.stream_id
             AND e.seq > m.hwm"""
UPDATE_MARKS = """
UPDATE lane_marks AS l SET seq_hwm = m.hwm, seq_reused_up_to = m.reused
FROM unnest(%b::text[], %b::text[], %b::text[], %b::bigint[], %b::bigint[])
     AS m(store_id, lane_id, stream_id, hwm, reused)
WHERE l.store_id = m.store_id AND l.lane_id = m.lane_id AND l.stream_id = m.stream_id"""
COUNT = """
INSERT INTO ingest_stats VALUES (%s, %s, %s) ON CONFLICT (ingest_id) DO UPDATE
SET events = ingest_stats.events + excluded.events, duplicates = ingest_stats.duplicates + excluded.duplicates"""
# COPY into a temporary table, then one INSERT ... SELECT: the least CPU per event (docs/sync.md has the figures).
INSERT_MODES = ("copy", "unnest", "executemany")
RETRIES = 5   # a deadlock or a lost connection rolls the batch back whole; nothing of it was acked


def next_mark(held_before: int, reused_before: int, above: Iterable[tuple[int, int, str]], new_ids: set[str],
              new_at_or_below: bool) -> Mark:
    """A stream's marks after this batch, from the committed rows above its mark (pure).

    `above`: (seq, seq_end, event_id) of every row above `held_before`, this batch's and other processes'.
    Seqs reused by two copies of the lane's database show as a new event at or below the mark
    (`new_at_or_below`), or as a new event overlapping another event's seqs above it; the finding is then
    the highest seq held before this batch, as the SQLite store says it.
    """
    hwm = highest_old = max_end = held_before
    reused, owner_new = new_at_or_below, False
    for seq, seq_end, event_id in sorted(above):
        new = event_id in new_ids
        if seq <= max_end and (new or owner_new):
            reused = True
        if seq_end > max_end:
            max_end, owner_new = seq_end, new
        if not new:
            highest_old = max(highest_old, seq_end)
        if seq <= hwm + 1:
            hwm = max(hwm, seq_end)
    return Mark(held_before, hwm, max(reused_before, highest_old if reused else 0))


class PostgresEventStore:
    """`EventStore` on PostgreSQL through psycopg 3; commits are synchronous (the server's default)."""

    def __init__(self, dsn: str, ingest_id: str, insert: str = "copy") -> None:
        if insert not in INSERT_MODES:
            raise ValueError(f"insert must be one of {INSERT_MODES}, not {insert!r}")
        self.dsn, self.ingest_id, self.insert = dsn, ingest_id, insert
        self.conn = self._connect()

    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self.dsn, autocommit=True, application_name=self.ingest_id)
        with conn.transaction():   # two processes starting at once must not both create the tables
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('omo-ingest-schema'))")
            conn.execute(SCHEMA)
        if self.insert == "copy":
            conn.execute("CREATE TEMP TABLE incoming (LIKE events) ON COMMIT DELETE ROWS")
        return conn

    def close(self) -> None:
        self.conn.close()

    def store(self, events: Sequence[Event]) -> dict[Stream, Mark]:
        if not events:
            return {}
        for attempt in range(RETRIES):
            try:
                if self.conn.closed:
                    self.conn = self._connect()
                with self.conn.transaction():
                    return self._store(events)
            except errors.DeadlockDetected:
                continue   # should not happen (sorted lock orders); if it does, the batch simply goes again
            except psycopg.OperationalError:
                if attempt == RETRIES - 1:
                    raise
                self.conn.close()   # the server restarted or the link broke: a new connection, the batch again
                time.sleep(1)
        raise RuntimeError(f"ingest: {RETRIES} deadlocks in a row on one batch")

    def _store(self, events: Sequence[Event]) -> dict[Stream, Mark]:
        rows = sorted(events, key=lambda e: e.event_id)
        new_ids = self._insert(rows)
        # Each process counts in its own row: one shared row would make every transaction wait for the last.
        self.conn.execute(COUNT, (self.ingest_id, len(new_ids), len(rows) - len(new_ids)))
        streams = sorted({event.stream for event in events})
        before = {(s, la, i): (hwm, reused) for s, la, i, hwm, reused in
                  self.conn.execute(LOCK_MARKS, [list(column) for column in zip(*streams, strict=True)])}
        above: dict[Stream, list[tuple[int, int, str]]] = defaultdict(list)
        marks_before = [(*stream, before[stream][0]) for stream in streams]
        for store, lane, stream_id, seq, seq_end, event_id in self.conn.execute(
                ROWS_ABOVE, [list(column) for column in zip(*marks_before, strict=True)]):
            above[(store, lane, stream_id)].append((seq, seq_end, event_id))
        low = {e.stream for e in events if e.event_id in new_ids and e.seq <= before[e.stream][0]}
        marks = {stream: next_mark(*before[stream], above[stream], new_ids, stream in low) for stream in streams}
        changed = [(*stream, mark.hwm, mark.reused_up_to) for stream, mark in marks.items()
                   if (mark.hwm, mark.reused_up_to) != before[stream]]
        if changed:
            self.conn.execute(UPDATE_MARKS, [list(column) for column in zip(*changed, strict=True)])
        return marks

    def _insert(self, rows: list[Event]) -> set[str]:
        """The event IDs that were new (inserted); the others were held already."""
        if self.insert == "unnest":
            columns = [list(column) for column in zip(*rows, strict=True)]
            return {row[0] for row in self.conn.execute(INSERT_UNNEST, columns)}
        cursor = self.conn.cursor()
        if self.insert == "copy":
            with cursor.copy(f"COPY incoming ({COLUMNS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(f"INSERT INTO events ({COLUMNS}) SELECT * FROM incoming ORDER BY event_id "
                           "ON CONFLICT (event_id) DO NOTHING RETURNING event_id")
            return {row[0] for row in cursor}
        cursor.executemany(INSERT_ROW, rows, returning=True)
        new: set[str] = set()
        while True:
            new.update(row[0] for row in cursor)
            if not cursor.nextset():
                return new


def check(dsn: str) -> dict[Stream, dict[str, Any]]:
    """Per (store, lane, stream): events held, highest seq and missing seqs (gaps), for tests."""
    with psycopg.connect(dsn) as conn:
        return coverage(conn.execute("SELECT store_id, lane_id, stream_id, seq, seq_end FROM events"))


def stored_by(dsn: str) -> dict[str, tuple[int, int]]:
    """Each ingest process's (events stored, duplicates dropped), for tests and benches."""
    with psycopg.connect(dsn) as conn:
        return {ingest: (events, dups) for ingest, events, dups in conn.execute("SELECT * FROM ingest_stats")}


def lane_marks(dsn: str) -> dict[Stream, tuple[int, int]]:
    """Every stream's (seq_hwm, seq_reused_up_to) as the database holds them, for tests."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT store_id, lane_id, stream_id, seq_hwm, seq_reused_up_to FROM lane_marks")
        return {(s, la, i): (hwm, reused) for s, la, i, hwm, reused in rows}
