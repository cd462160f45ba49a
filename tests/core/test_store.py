"""SQLite state: pragmas, atomic named migrations from every older schema, corruption moved aside, disk full."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from agent.errors import DiskFullError, StoreError
from agent.store import Database, Migration

STEPS = [
    Migration("m001_items", "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"),
    Migration("m002_price", "ALTER TABLE items ADD COLUMN price INTEGER NOT NULL DEFAULT 0;"),
    Migration("m003_index", """
        CREATE INDEX items_name ON items (name);
        CREATE TRIGGER items_no_negative BEFORE INSERT ON items WHEN NEW.price < 0
        BEGIN SELECT RAISE(ABORT, 'negative price'); END;
    """),
]


def schema(path: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        return sorted(conn.execute("SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))
    finally:
        conn.close()


def test_writer_uses_wal_full_sync_and_a_busy_timeout(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "a.db", {"t": STEPS})
    try:
        pragmas = db.call(lambda: [db._connection().execute(f"PRAGMA {p}").fetchone()[0]
                                   for p in ("journal_mode", "synchronous", "busy_timeout")])
        assert pragmas == ["wal", 2, 5000]  # synchronous 2 = FULL
    finally:
        db.close()


@pytest.mark.parametrize("already", range(len(STEPS) + 1))
def test_every_older_schema_migrates_to_the_current_one(tmp_path: Path, already: int) -> None:
    fresh = Database.open(tmp_path / "fresh.db", {"t": STEPS})
    fresh.close()
    old = Database.open(tmp_path / "old.db", {"t": STEPS[:already]})
    if already:
        old.write_blocking(lambda c: c.execute("INSERT INTO items (id, name) VALUES (1, 'kept')"))
    old.close()
    upgraded = Database.open(tmp_path / "old.db", {"t": STEPS})
    upgraded.close()
    assert schema(tmp_path / "old.db") == schema(tmp_path / "fresh.db")
    conn = sqlite3.connect(tmp_path / "old.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(STEPS)
    if already:
        assert conn.execute("SELECT name FROM items").fetchall() == [("kept",)]
    conn.close()


def test_a_failing_migration_leaves_the_previous_schema(tmp_path: Path) -> None:
    Database.open(tmp_path / "a.db", {"t": STEPS[:1]}).close()
    broken = Migration("m002_broken", "ALTER TABLE items ADD COLUMN x INTEGER;\nCREATE TABLE items (oops);")
    with pytest.raises(StoreError, match="migration t:m002_broken"):
        Database.open(tmp_path / "a.db", {"t": [STEPS[0], broken]})
    columns = [r[1] for r in sqlite3.connect(tmp_path / "a.db").execute("PRAGMA table_info(items)")]
    assert columns == ["id", "name"]


KILL_SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from agent.store import Database, Migration
    def slow(conn):
        conn.execute("CREATE TABLE big (n INTEGER)")
        print("started", flush=True)
        for i in range(10_000_000):
            conn.execute("INSERT INTO big VALUES (?)", (i,))
    Database.open(Path(sys.argv[1]), {"t": [Migration("m001_items", "CREATE TABLE items (id INTEGER);"),
                                             Migration("m002_big", slow)]})
""")


def test_kill_during_a_migration_leaves_the_old_schema(tmp_path: Path) -> None:
    Database.open(tmp_path / "a.db", {"t": STEPS[:1]}).close()
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(tmp_path / "a.db")], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"started"
    time.sleep(0.2)   # the behaviour under test: a kill some way into the migration's inserts
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    proc.stdout.close()
    conn = sqlite3.connect(tmp_path / "a.db")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "big" not in tables and "items" in tables
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT name FROM schema_migrations").fetchall() == [("m001_items",)]


def test_a_database_from_a_newer_agent_is_refused(tmp_path: Path) -> None:
    Database.open(tmp_path / "a.db", {"t": STEPS}).close()
    with pytest.raises(StoreError, match=r"written by a newer omo-edge \(unknown migrations \[\('t', 'm003_index'\)"):
        Database.open(tmp_path / "a.db", {"t": STEPS[:2]})


def test_a_corrupt_file_is_moved_aside_never_deleted_and_a_fresh_one_starts(tmp_path: Path,
                                                                             caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "lane.db"
    db = Database.open(path, {"t": STEPS})
    db.write_blocking(lambda c: c.executemany("INSERT INTO items (name) VALUES (?)", [("x" * 500,)] * 200))
    db.close()
    data = bytearray(path.read_bytes())
    data[4096 * 2:4096 * 2 + 512] = os.urandom(512)   # damage a b-tree page, keep the header
    path.write_bytes(bytes(data))
    damaged = bytes(data)
    reopened = Database.open(path, {"t": STEPS})
    try:
        assert reopened.moved_aside is not None
        assert reopened.moved_aside.name.startswith("lane.db.corrupt-")
        assert reopened.moved_aside.read_bytes() == damaged
        assert reopened.reader().execute("SELECT count(*) FROM items").fetchone()[0] == 0
        assert "failed its integrity check" in caplog.text and str(reopened.moved_aside) in caplog.text
    finally:
        reopened.close()


def test_a_file_that_is_not_a_database_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "lane.db"
    path.write_bytes(b"this is not sqlite" * 100)
    db = Database.open(path, {"t": STEPS})
    db.close()
    assert db.moved_aside is not None and db.moved_aside.exists()


def test_a_write_is_all_or_nothing(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "a.db", {"t": STEPS})

    def half_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO items (name) VALUES ('first')")
        conn.execute("INSERT INTO items (name, price) VALUES ('second', -1)")  # the trigger aborts

    try:
        with pytest.raises(StoreError, match="negative price"):
            db.write_blocking(half_then_fail)
        assert db.reader().execute("SELECT count(*) FROM items").fetchone()[0] == 0
    finally:
        db.close()


def test_disk_full_is_a_disk_full_error_and_leaves_nothing_half_written(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "a.db", {"t": STEPS})
    pages = db.call(lambda: db._connection().execute("PRAGMA page_count").fetchone()[0])
    db.call(lambda: db._connection().execute(f"PRAGMA max_page_count = {pages + 2}"))

    def big_sale(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO items (name) VALUES ('header')")
        conn.executemany("INSERT INTO items (name) VALUES (?)", [("y" * 2000,)] * 50)

    try:
        with pytest.raises(DiskFullError, match="the disk holding the state directory is full; free space there"):
            db.write_blocking(big_sale)
        assert db.reader().execute("SELECT count(*) FROM items").fetchone()[0] == 0
        db.call(lambda: db._connection().execute("PRAGMA max_page_count = 1073741823"))
        db.write_blocking(big_sale)
        assert db.reader().execute("SELECT count(*) FROM items").fetchone()[0] == 51
    finally:
        db.close()


async def test_async_writes_run_off_the_event_loop_in_order(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "a.db", {"t": STEPS})
    try:
        async with asyncio.timeout(10):
            await asyncio.gather(*(db.write(lambda c, n=n: c.execute("INSERT INTO items (name) VALUES (?)",
                                                                      (str(n),))) for n in range(50)))
        names = [r[0] for r in db.reader().execute("SELECT name FROM items ORDER BY id")]
        assert names == [str(n) for n in range(50)]
    finally:
        db.close()


RUNNING: dict[str, threading.Event] = {}


def slow_insert(conn: sqlite3.Connection, name: str, hold_s: float) -> None:
    conn.execute("INSERT INTO items (name) VALUES (?)", (name,))
    RUNNING.setdefault(name, threading.Event()).set()
    time.sleep(hold_s)   # a transaction that takes a while, as one does when the writer is starved


async def running(name: str) -> None:
    """Until the writer thread is inside the transaction `slow_insert(name)`."""
    event = RUNNING.setdefault(name, threading.Event())
    assert await asyncio.to_thread(event.wait, 5), f"the write {name!r} never started"


async def test_give_way_waits_for_a_sale_write_but_not_for_background_ones(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "a.db", {"t": STEPS})
    try:
        started = time.perf_counter()
        db.give_way(1.0)
        assert time.perf_counter() - started < 0.05, "nothing pending: give_way returns at once"

        RUNNING.clear()
        background = asyncio.ensure_future(db.write(slow_insert, "marks", 0.3, background=True))
        await running("marks")
        started = time.perf_counter()
        db.give_way(1.0)
        assert time.perf_counter() - started < 0.05, "a drain does not wait for its own bookkeeping"
        await background

        sale = asyncio.ensure_future(db.write(slow_insert, "sale", 0.2))
        await running("sale")
        started = time.perf_counter()
        db.give_way(1.0)
        waited = time.perf_counter() - started
        assert 0.1 < waited < 0.9, f"give_way should last until the sale committed, not {waited:.3f} s"
        await sale
    finally:
        db.close()


async def test_a_write_cancelled_before_it_ran_is_not_waited_for(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "a.db", {"t": STEPS})
    try:
        RUNNING.clear()
        first = asyncio.ensure_future(db.write(slow_insert, "first", 0.2))
        second = asyncio.ensure_future(db.write(slow_insert, "second", 0.0))
        await running("first")      # the first is running, the second queued behind it
        second.cancel()
        await first
        started = time.perf_counter()
        db.give_way(1.0)
        assert time.perf_counter() - started < 0.05
        assert [r[0] for r in db.reader().execute("SELECT name FROM items")] == ["first"]
    finally:
        db.close()


@pytest.mark.parametrize(("checkpoint_pages", "wal_at_most_mb", "wal_at_least_mb"), [(250, 1.5, 0.5), (None, 5.0, 3.0)])
def test_checkpoint_pages_bounds_the_wal(tmp_path: Path, checkpoint_pages: int | None, wal_at_most_mb: float,
                                         wal_at_least_mb: float) -> None:
    """lane.db checkpoints at 250 pages (agent/lane_db.py) so no single commit copies 4 MB while a sale waits."""
    db = Database.open(tmp_path / "a.db", {"t": STEPS}, checkpoint_pages=checkpoint_pages)
    try:
        largest = 0
        for n in range(300):   # about 5 MB in 16 KB transactions
            db.write_blocking(lambda c, n=n: c.execute("INSERT INTO items (name) VALUES (?)", ("x" * 16384 + str(n),)))
            largest = max(largest, (tmp_path / "a.db-wal").stat().st_size)
    finally:
        db.close()
    assert wal_at_least_mb * 1e6 < largest < wal_at_most_mb * 1e6


async def test_a_background_write_skips_the_fsync_and_the_next_write_has_it_again(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "a.db", {"t": STEPS})
    synchronous = "PRAGMA synchronous"
    try:
        seen = await db.write(lambda c: c.execute(synchronous).fetchone()[0], background=True)
        assert seen == 1, "NORMAL (1) inside a background write"
        assert await db.write(lambda c: c.execute(synchronous).fetchone()[0]) == 2, "FULL (2) for a sale"
        with pytest.raises(StoreError):
            await db.write(lambda c: c.execute("INSERT INTO nowhere VALUES (1)"), background=True)
        assert await db.write(lambda c: c.execute(synchronous).fetchone()[0]) == 2, "FULL again after a failure"
    finally:
        db.close()
