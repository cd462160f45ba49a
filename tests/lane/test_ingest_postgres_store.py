"""The ingest's PostgreSQL store: de-duplication by event_id and the seq marks, with concurrent writers."""

from __future__ import annotations

import random
import threading
import time

import psycopg
import pytest

from simulators.cloud.ingest import parse_args
from simulators.cloud.ingest_postgres import INSERT_MODES, PostgresEventStore, lane_marks, next_mark
from simulators.cloud.ingest_store import Event, Mark

pytestmark = [pytest.mark.timeout(120)]
STREAM = ("store-001", "lane-01", "stream-a")


def event(seq: int, seq_end: int | None = None, event_id: str | None = None, stream_id: str = "stream-a") -> Event:
    return Event(event_id or f"e-{stream_id}-{seq:06d}", "store-001", "lane-01", seq, seq_end or seq, "omo.scan/1",
                 "{}", 0.0, stream_id)


@pytest.mark.parametrize(("held", "above", "new", "low", "expected"), [
    (0, [(1, 1, "a"), (2, 2, "b")], {"a", "b"}, False, Mark(0, 2, 0)),                  # in order
    (0, [(2, 2, "b"), (3, 3, "c")], {"b", "c"}, False, Mark(0, 0, 0)),                  # seq 1 not there yet
    (1, [(2, 2, "b"), (4, 4, "d")], {"d"}, False, Mark(1, 2, 0)),                       # another's row fills in
    (3, [(4, 9, "shed"), (10, 10, "j")], {"j"}, False, Mark(3, 10, 0)),                 # a shed range
    (5, [(6, 6, "f")], {"f"}, True, Mark(5, 6, 5)),                                     # new event at a held seq
    (5, [(6, 6, "f"), (6, 6, "other-copy")], {"other-copy"}, False, Mark(5, 6, 6)),     # both above the mark
    (5, [(6, 6, "f")], set(), False, Mark(5, 6, 0)),                                    # a resend: nothing new
])
def test_the_next_mark_fills_gaps_over_committed_rows_and_finds_reused_seqs(
        held: int, above: list[tuple[int, int, str]], new: set[str], low: bool, expected: Mark) -> None:
    assert next_mark(held, 0, above, new, low) == expected


def test_a_reuse_finding_is_kept_and_never_lowered() -> None:
    assert next_mark(10, 7, [(11, 11, "k")], {"k"}, False) == Mark(10, 11, 7)


@pytest.mark.parametrize("insert", INSERT_MODES)
def test_events_are_held_once_and_duplicates_counted(postgres_dsn: str, insert: str) -> None:
    store = PostgresEventStore(postgres_dsn, "ingest-1", insert)
    try:
        assert store.store([event(1), event(2)]) == {STREAM: Mark(0, 2, 0)}
        assert store.store([event(2), event(3), event(3)]) == {STREAM: Mark(2, 3, 0)}
    finally:
        store.close()
    with psycopg.connect(postgres_dsn) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchone() == (3, 3)
        assert conn.execute("SELECT events, duplicates FROM ingest_stats").fetchall() == [(3, 2)]


def test_a_process_acks_over_the_seqs_another_process_committed(postgres_dsn: str) -> None:
    first, second = PostgresEventStore(postgres_dsn, "ingest-1"), PostgresEventStore(postgres_dsn, "ingest-2")
    try:
        assert first.store([event(2), event(3)]) == {STREAM: Mark(0, 0, 0)}   # seq 1 is still on its way
        assert second.store([event(1)]) == {STREAM: Mark(0, 3, 0)}             # it holds 2 and 3 in the database
        assert first.store([event(4)]) == {STREAM: Mark(3, 4, 0)}
    finally:
        first.close()
        second.close()
    assert lane_marks(postgres_dsn) == {STREAM: (4, 0)}


def test_a_lost_mark_is_rebuilt_from_the_committed_rows(postgres_dsn: str) -> None:
    store = PostgresEventStore(postgres_dsn, "ingest-1")
    try:
        store.store([event(seq) for seq in range(1, 6)])
        with psycopg.connect(postgres_dsn) as conn:
            conn.execute("DELETE FROM lane_marks")
        assert store.store([event(6)]) == {STREAM: Mark(0, 6, 0)}
    finally:
        store.close()


def test_seqs_reused_by_another_copy_of_lane_db_are_found_and_said_by_every_process(postgres_dsn: str) -> None:
    first, second = PostgresEventStore(postgres_dsn, "ingest-1"), PostgresEventStore(postgres_dsn, "ingest-2")
    try:
        first.store([event(seq) for seq in range(1, 9)])
        restored = [event(seq, event_id=f"copy-{seq}") for seq in (3, 4)]
        assert first.store(restored) == {STREAM: Mark(8, 8, 8)}
        assert second.store([event(9)]) == {STREAM: Mark(8, 9, 8)}
    finally:
        first.close()
        second.close()
    assert lane_marks(postgres_dsn) == {STREAM: (9, 8)}


# In one snapshot: the seqs up to each mark are all held, and the next one is not (the mark is not behind).
MARK_MATCHES_ROWS = """
SELECT m.stream_id, m.seq_hwm,
       (SELECT count(DISTINCT seq) FROM events e WHERE e.stream_id = m.stream_id AND e.seq <= m.seq_hwm),
       EXISTS (SELECT 1 FROM events e WHERE e.stream_id = m.stream_id AND e.seq = m.seq_hwm + 1)
FROM lane_marks m"""


def test_two_connections_storing_one_lane_at_once_keep_the_mark_equal_to_the_committed_rows(
        postgres_dsn: str) -> None:
    """Two writers share the seqs of two streams in shuffled batches with resends, as two ingest processes do.

    After every batch, in one snapshot, each stream's mark must cover exactly the contiguous committed seqs:
    never more (an ack would claim what is not held), never less (a process that missed the other's rows).
    """
    total, streams = 600, ("stream-a", "stream-b")
    events = [event(seq, stream_id=s) for s in streams for seq in range(1, total + 1)]
    random.Random(17).shuffle(events)
    halves = [events[0::2] + events[:40], events[1::2] + events[-40:]]   # each also resends some of the other's
    wrong: list[tuple[object, ...]] = []

    def write(ingest_id: str, mine: list[Event]) -> None:
        store, check = PostgresEventStore(postgres_dsn, ingest_id), psycopg.connect(postgres_dsn, autocommit=True)
        try:
            for start in range(0, len(mine), 25):
                for stream, mark in store.store(mine[start:start + 25]).items():
                    held = check.execute("SELECT count(DISTINCT seq) FROM events WHERE stream_id = %s AND seq <= %s",
                                         (stream[2], mark.hwm)).fetchone()
                    if held != (mark.hwm,):
                        wrong.append((ingest_id, "ack over seqs not held", stream[2], mark.hwm, held))
                for stream_id, hwm, held, next_held in check.execute(MARK_MATCHES_ROWS):
                    if held != hwm or next_held:
                        wrong.append((ingest_id, "mark not the committed rows", stream_id, hwm, held, next_held))
        finally:
            store.close()
            check.close()

    writers = [threading.Thread(target=write, args=(f"ingest-{n}", half)) for n, half in enumerate(halves)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=100)
    assert not any(writer.is_alive() for writer in writers)
    assert wrong == []
    assert lane_marks(postgres_dsn) == {("store-001", "lane-01", s): (total, 0) for s in streams}
    with psycopg.connect(postgres_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (2 * total,)
        assert conn.execute("SELECT sum(duplicates) FROM ingest_stats").fetchone() == (80,)



def test_a_process_waiting_for_the_lanes_lock_counts_the_rows_the_holder_committed(postgres_dsn: str) -> None:
    """Seqs 2 and 3 reach two processes at once; whichever commits second must carry the mark to 3.

    A third connection holds the lane's mark row, so both batches are inserted (uncommitted, invisible to
    each other) and wait; released, they take the lock in turn.
    """
    setup = PostgresEventStore(postgres_dsn, "setup")
    setup.store([event(1)])
    setup.close()
    marks: list[Mark] = []

    def store_one(ingest_id: str, seq: int) -> None:
        store = PostgresEventStore(postgres_dsn, ingest_id)
        try:
            marks.extend(store.store([event(seq)]).values())
        finally:
            store.close()

    threads = [threading.Thread(target=store_one, args=(f"ingest-{seq}", seq)) for seq in (2, 3)]
    with psycopg.connect(postgres_dsn, autocommit=True) as blocker, \
            psycopg.connect(postgres_dsn, autocommit=True) as watcher:   # a transaction sees one pg_stat_activity
        with blocker.transaction():
            blocker.execute("SELECT * FROM lane_marks FOR UPDATE")
            for thread in threads:
                thread.start()
            waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            deadline = time.monotonic() + 20
            while watcher.execute(waiting).fetchone() != (2,):   # both batches inserted, both waiting
                assert time.monotonic() < deadline, "the two batches never waited for the lane's lock"
                assert all(thread.is_alive() for thread in threads), "a batch did not wait for the lane's lock"
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(mark.hwm for mark in marks) in ([1, 3], [2, 3])   # the first sees only its own row
    assert lane_marks(postgres_dsn) == {STREAM: (3, 0)}


def test_a_broken_connection_is_replaced_and_the_batch_stored(postgres_dsn: str) -> None:
    store = PostgresEventStore(postgres_dsn, "ingest-1")
    try:
        store.store([event(1)])
        with psycopg.connect(postgres_dsn, autocommit=True) as admin:   # as a database restart would
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'ingest-1'")
        assert store.store([event(2)]) == {STREAM: Mark(1, 2, 0)}
    finally:
        store.close()
    assert lane_marks(postgres_dsn) == {STREAM: (2, 0)}


def test_the_ingest_takes_a_dsn_by_db_or_dsn_and_refuses_a_file_as_dsn() -> None:
    assert parse_args(["--port", "1", "--db", "postgresql://ingest@db/omo"]).db == "postgresql://ingest@db/omo"
    assert parse_args(["--port", "1", "--dsn", "host=/run/pg dbname=omo"]).db == "host=/run/pg dbname=omo"
    assert parse_args(["--port", "1", "--db", "ingest.db"]).db == "ingest.db"
    with pytest.raises(SystemExit) as refused:
        parse_args(["--port", "1", "--dsn", "ingest.db"])
    assert refused.value.code == 2
