"""The reference ingest's SQLite store: one file, de-duplication by event_id, the seq marks kept in memory.

The zero-set-up default (the demo, most tests). The marks live in this process's memory, rebuilt from the
file when a stream is first met: several processes may share the file, but then each one's mark only
advances over the seqs it committed itself, so its acks name more events (still never claiming more than
the file holds). For several ingest processes use PostgreSQL (`ingest_postgres.py`).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simulators.cloud.ingest_store import Event, Mark, Stream

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY, store_id TEXT NOT NULL, lane_id TEXT NOT NULL, seq INTEGER NOT NULL,
    seq_end INTEGER NOT NULL, schema TEXT NOT NULL, payload TEXT NOT NULL, received_at REAL NOT NULL,
    stream_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_lane_seq ON events (store_id, lane_id, stream_id, seq);
CREATE TABLE IF NOT EXISTS stats (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS stream_reuse (
    store_id TEXT NOT NULL, lane_id TEXT NOT NULL, stream_id TEXT NOT NULL, seq_reused_up_to INTEGER NOT NULL,
    PRIMARY KEY (store_id, lane_id, stream_id));
"""


def open_db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript(SCHEMA)
    return conn


class LaneTracker:
    """Per-stream contiguous high-water mark from the seqs committed to the database."""

    def __init__(self) -> None:
        self.hwm = 0
        self.above: set[int] = set()
        self.reused_up_to = 0   # seqs up to here were written by two copies of the lane's database

    def held(self, seq: int) -> bool:
        return seq <= self.hwm or seq in self.above

    def highest(self) -> int:
        return max(self.hwm, max(self.above, default=0))

    @classmethod
    def from_db(cls, conn: sqlite3.Connection, stream: Stream) -> LaneTracker:
        """The mark as the database holds it, for a stream first seen by this process.

        Why: starting at 0 after a restart, the mark would wait forever for seq 1, which arrived before; every
        ack would then name every event, and the seqs above it would pile up in memory.
        """
        tracker = cls()
        reused = conn.execute("SELECT seq_reused_up_to FROM stream_reuse WHERE store_id = ? AND lane_id = ? "
                              "AND stream_id = ?", stream).fetchone()
        tracker.reused_up_to = reused[0] if reused else 0
        for seq, seq_end in conn.execute("SELECT seq, seq_end FROM events WHERE store_id = ? AND lane_id = ? "
                                         "AND stream_id = ? ORDER BY seq", stream):
            if seq <= tracker.hwm + 1 and not tracker.above:
                tracker.hwm = max(tracker.hwm, seq_end)
            else:
                tracker.add(seq, seq_end)
        return tracker

    def add(self, first: int, last: int) -> None:
        self.above.update(range(max(first, self.hwm + 1), last + 1))   # a resent seq at or below stays out
        while self.hwm + 1 in self.above:
            self.hwm += 1
            self.above.discard(self.hwm)


class SqliteEventStore:
    """`EventStore` on one SQLite file (WAL, synchronous=NORMAL: a commit survives the process, not the OS)."""

    def __init__(self, path: Path) -> None:
        self.db = open_db(path)
        self.streams: dict[Stream, LaneTracker] = {}

    def close(self) -> None:
        self.db.close()

    def store(self, events: Sequence[Event]) -> dict[Stream, Mark]:
        by_stream: dict[Stream, list[Event]] = defaultdict(list)
        for event in events:
            by_stream[event.stream].append(event)
        for stream in by_stream:   # before this batch is in the database, so that the mark held before is the old one
            if stream not in self.streams:
                self.streams[stream] = LaneTracker.from_db(self.db, stream)
        reuses = {stream: up_to for stream, batch in by_stream.items() if (up_to := self._reused(stream, batch))}
        self.db.execute("BEGIN IMMEDIATE")
        before = self.db.total_changes
        self.db.executemany("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", events)
        duplicates = len(events) - (self.db.total_changes - before)
        self.db.execute("INSERT INTO stats VALUES ('duplicates', ?) ON CONFLICT (key) DO UPDATE SET "
                        "value = value + excluded.value", (duplicates,))
        self.db.executemany("INSERT INTO stream_reuse VALUES (?, ?, ?, ?) ON CONFLICT (store_id, lane_id, stream_id) "
                            "DO UPDATE SET seq_reused_up_to = max(seq_reused_up_to, excluded.seq_reused_up_to)",
                            [(*stream, up_to) for stream, up_to in reuses.items()])
        self.db.execute("COMMIT")
        marks = {}
        for stream, batch in by_stream.items():
            tracker = self.streams[stream]
            tracker.reused_up_to = max(tracker.reused_up_to, reuses.get(stream, 0))
            held_before = tracker.hwm
            for event in batch:
                tracker.add(event.seq, event.seq_end)
            marks[stream] = Mark(held_before, tracker.hwm, tracker.reused_up_to)
        return marks

    def _reused(self, stream: Stream, events: list[Event]) -> int:
        """Seqs written by two copies of the lane's database: an event not held yet at a seq already held.

        Returns the highest seq held so far (the other copy's events may reach that far), or 0. Only events at
        held seqs are looked up, and those are rare: resends, and the events of a restored copy.
        """
        tracker = self.streams[stream]
        at_held = {event.event_id for event in events if tracker.held(event.seq)}
        if not at_held:
            return 0
        marks = ",".join("?" * len(at_held))
        known = {row[0] for row in self.db.execute(f"SELECT event_id FROM events WHERE event_id IN ({marks})",
                                                   tuple(at_held))}
        return tracker.highest() if at_held - known else 0


def check(db_path: Path) -> dict[Stream, dict[str, Any]]:
    """Per (store, lane, stream): events held, highest seq and missing seqs (gaps), for tests."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return coverage(conn.execute("SELECT store_id, lane_id, stream_id, seq, seq_end FROM events"))
    finally:
        conn.close()


def coverage(rows: Any) -> dict[Stream, dict[str, Any]]:
    """The report of `check` from (store, lane, stream, seq, seq_end) rows, whatever database they come from."""
    covered: dict[Stream, set[int]] = defaultdict(set)
    for store, lane, stream_id, seq, seq_end in rows:
        covered[(store, lane, stream_id)].update(range(seq, seq_end + 1))
    report = {}
    for stream, seqs in covered.items():
        top = max(seqs, default=0)
        report[stream] = {"events": len(seqs), "max_seq": top, "gaps": sorted(set(range(1, top + 1)) - seqs)}
    return report
