"""SQLite state files: one writer thread per file, named atomic migrations, and corruption moved aside.

Why one writer: the Python runtime's SQLite has a known WAL race when several connections write or
checkpoint at once, and one writer also serialises `BEGIN IMMEDIATE` without busy-waiting. The writer
lives on its own thread so that an fsync (synchronous=FULL) never stalls the event loop; readers open
their own read-only connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar

from agent.errors import DiskFullError, StoreError

logger = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")

SQLITE_FULL = 13
SQLITE_IOERR = 10
BUSY_TIMEOUT_MS = 5000


@dataclass(frozen=True, slots=True)
class Migration:
    """One named schema step. Never edit a released one: add a new one instead."""

    name: str
    apply: str | Callable[[sqlite3.Connection], None]


def split_statements(script: str) -> list[str]:
    """Split SQL into statements so a migration can run inside one transaction.

    `executescript` would COMMIT first, which breaks the all-or-nothing promise.
    """
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        raise StoreError(f"migration SQL ends with an incomplete statement: {buffer.strip()[:60]!r}")
    return statements


def translate(exc: sqlite3.Error, doing: str) -> StoreError:
    """Map a sqlite3 error to the agent's tree, keeping the cause and naming the fix."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF == SQLITE_FULL:
        return DiskFullError(f"{doing}: the disk holding the state directory is full; free space there")
    if code is not None and code & 0xFF == SQLITE_IOERR:
        return StoreError(f"{doing}: I/O error from the disk ({exc}); check the storage device and dmesg")
    return StoreError(f"{doing}: {exc}")


def _configure(conn: sqlite3.Connection, synchronous: str, checkpoint_pages: int | None = None) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise StoreError(f"could not switch {conn} to WAL (got {mode}); is the state directory on a local disk?")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA foreign_keys = ON")
    if checkpoint_pages is not None:
        conn.execute(f"PRAGMA wal_autocheckpoint = {int(checkpoint_pages)}")


def integrity_problem(path: Path) -> str | None:
    """Return why the file is unusable, or None when `PRAGMA quick_check` passes."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    result = "; ".join(str(r[0]) for r in rows)
    return None if result == "ok" else result


def move_aside(path: Path) -> Path:
    """Rename a damaged database (and its WAL/SHM) with a timestamp; never delete: it may hold unsent sales."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            os.replace(source, Path(f"{target}{suffix}"))
    return target


class Database:
    """One SQLite file with its single writer thread and per-thread read-only readers."""

    def __init__(self, path: Path, *, synchronous: str = "FULL", checkpoint_pages: int | None = None,
                 moved_aside: Path | None = None) -> None:
        self.path = path
        self.moved_aside = moved_aside   # where `open` put a corrupt file found at `path`, for health to say
        self._synchronous = synchronous
        self._checkpoint_pages = checkpoint_pages
        self._writer: sqlite3.Connection | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"sqlite-{path.stem}")
        self._readers = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._closed = False
        self._foreground = 0                          # writes submitted, not background, not yet finished
        self._foreground_lock = threading.Lock()
        self._foreground_idle = threading.Event()
        self._foreground_idle.set()

    @classmethod
    def open(cls, path: Path, migrations: Mapping[str, Sequence[Migration]], *,
             synchronous: str = "FULL", rebuildable: bool = False, checkpoint_pages: int | None = None) -> Database:
        """Check, repair by moving aside, migrate and return a ready database.

        `rebuildable` files (a cache the cloud can send again) are moved aside quietly; others may hold
        events not yet sent, so their loss is logged as critical. `checkpoint_pages` sets the WAL size (in
        pages) at which a commit checkpoints; None keeps SQLite's 1000.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        problem = integrity_problem(path)
        moved_aside = None if problem is None else move_aside(path)
        db = cls(path, synchronous=synchronous, checkpoint_pages=checkpoint_pages, moved_aside=moved_aside)
        if problem is not None:
            if rebuildable:
                logger.warning("database %s failed its integrity check (%s); moved aside to %s, rebuilding",
                               path, problem, db.moved_aside)
            else:
                logger.critical("database %s failed its integrity check (%s); moved aside to %s and starting "
                                "fresh. It may hold unsent events: keep it for recovery", path, problem,
                                db.moved_aside)
        db.call(db._connect)
        db.call(db.migrate, migrations)
        return db

    def _connect(self) -> None:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            _configure(conn, self._synchronous, self._checkpoint_pages)
        except sqlite3.Error as exc:
            raise translate(exc, f"opening {self.path}") from exc
        self._writer = conn

    def migrate(self, migrations: Mapping[str, Sequence[Migration]]) -> list[str]:
        """Apply missing migrations (call on the writer thread, through `call`)."""
        return apply_migrations(self._connection(), self.path, migrations)

    def _connection(self) -> sqlite3.Connection:
        if self._writer is None:
            raise StoreError(f"database {self.path} is closed")
        return self._writer

    def call(self, fn: Callable[..., T], *args: object) -> T:
        """Run `fn(*args)` on the writer thread and wait (for start-up, the CLI and tests)."""
        return self._executor.submit(fn, *args).result()

    def _in_transaction(self, fn: Callable[..., T], args: tuple[object, ...], background: bool = False) -> T:
        conn = self._connection()
        relax = background and self._synchronous == "FULL"
        try:
            if relax:
                conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn, *args)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise translate(exc, f"writing {self.path.name}") from exc
        finally:
            if relax:   # never left relaxed: the next write may be a sale (a failure here is raised, not hidden)
                conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        return result

    def write_blocking(self, fn: Callable[..., T], *args: object) -> T:
        """Run `fn(conn, *args)` in one `BEGIN IMMEDIATE` transaction on the writer thread; wait for it."""
        return self._submit(fn, args, background=False).result()

    async def write(self, fn: Callable[..., T], *args: object, background: bool = False) -> T:
        """Like `write_blocking`, awaited: all of it commits, or none of it does.

        `background=True` is for bookkeeping a power cut may undo harmlessly, such as confirmations that only
        spare a resend: it commits without the fsync (synchronous=NORMAL for this transaction only; still
        atomic, and the next durable commit syncs it too, the WAL being written in order), and busy loops
        that call `give_way` do not wait for it.
        """
        return await asyncio.wrap_future(self._submit(fn, args, background))

    def _submit(self, fn: Callable[..., T], args: tuple[object, ...], background: bool) -> Future[T]:
        """Queue the transaction; a foreground one is counted until it ends, runs or not (a cancel)."""
        if background:
            return self._executor.submit(self._in_transaction, fn, args, True)
        with self._foreground_lock:
            self._foreground += 1
            self._foreground_idle.clear()
        try:
            future = self._executor.submit(self._in_transaction, fn, args, False)
        except BaseException:
            self._leave_foreground()
            raise
        future.add_done_callback(self._leave_foreground)
        return future

    def _leave_foreground(self, _: object = None) -> None:
        with self._foreground_lock:
            self._foreground -= 1
            if self._foreground == 0:
                self._foreground_idle.set()

    def give_way(self, timeout_s: float) -> None:
        """Block this thread, the GIL released, while a sale's or scan's write is queued or running.

        Why: a loop thread busy with many short syscalls (a drain publishing over MQTT) re-takes the GIL
        after each one before the writer thread wakes, and CPython restarts the writer's wait for the GIL
        every time (the convoy effect), so a 0.3 ms transaction took 10-25 ms. A drain calls this between
        batches so that new sales go first. Returns at once when no such write is pending.
        """
        if self._foreground:
            self._foreground_idle.wait(timeout_s)

    def reader(self) -> sqlite3.Connection:
        """A read-only connection owned by the calling thread."""
        conn: sqlite3.Connection | None = getattr(self._readers, "conn", None)
        if conn is None:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None,
                                   check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA query_only = ON")
            self._readers.conn = conn
            self._reader_conns.append(conn)
        return conn

    def close(self) -> None:
        """Close readers and the writer; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for conn in self._reader_conns:
            conn.close()
        self._executor.submit(self._close_writer).result()
        self._executor.shutdown(wait=True)

    def _close_writer(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(sqlite3.Error):
                self._writer.execute("PRAGMA optimize")
            self._writer.close()
            self._writer = None


MIGRATIONS_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    component TEXT NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (component, name))"""


def apply_migrations(conn: sqlite3.Connection, path: Path,
                     migrations: Mapping[str, Sequence[Migration]]) -> list[str]:
    """Apply what is missing, each migration in its own transaction; return what was applied.

    A kill during a migration leaves the schema before it (SQLite DDL is transactional). A database
    that knows migrations this code does not was written by a newer agent and is refused.
    """
    conn.execute(MIGRATIONS_TABLE)
    done = {(c, n) for c, n in conn.execute("SELECT component, name FROM schema_migrations")}
    known = {(c, m.name) for c, ms in migrations.items() for m in ms}
    unknown = sorted(done - known)
    if unknown:
        raise StoreError(f"{path} was written by a newer omo-edge (unknown migrations {unknown}); "
                         "install that version again or restore a backup")
    applied: list[str] = []
    for component, steps in migrations.items():
        for step in steps:
            if (component, step.name) not in done:
                _apply_one(conn, path, component, step)
                applied.append(f"{component}:{step.name}")
    return applied


def _apply_one(conn: sqlite3.Connection, path: Path, component: str, step: Migration) -> None:
    try:
        conn.execute("BEGIN IMMEDIATE")
        if callable(step.apply):
            step.apply(conn)
        else:
            for statement in split_statements(step.apply):
                conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ'))",
                     (component, step.name))
        count = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]
        conn.execute(f"PRAGMA user_version = {int(count)}")
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise translate(exc, f"migration {component}:{step.name} on {path}") from exc
        raise
    logger.info("migration applied db=%s migration=%s:%s", path.name, component, step.name)


@contextlib.contextmanager
def readonly(path: Path) -> Iterator[sqlite3.Connection]:
    """A short-lived read-only connection for CLI status commands (no writer thread needed)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()
