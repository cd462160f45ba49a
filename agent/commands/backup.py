"""`omo-edge backup DEST`: a consistent copy of lane.db and the current catalog, taken while the agent runs.

How, with SQLite's online backup API (`sqlite3.Connection.backup`):
- The source is opened read-only and one read transaction is held for the whole copy, so the copy is the
  database as of that instant. In WAL mode (lane.db's) a reader never blocks the lane's writer. Without the
  held transaction a paged backup starts again whenever another connection commits: on a lane that keeps
  selling it never ends (seen on this machine: a writer committing every few milliseconds kept it going).
- Pages go `pages` at a time with a pause between steps, so the copy's reads leave the disk to the lane's
  commits, each of which waits for an fsync.
- The copy is written under a temporary name in DEST, made a single file (journal_mode=DELETE, no -wal),
  checked with `PRAGMA integrity_check`, fsynced, renamed over the previous copy, and the directory fsynced:
  DEST holds the previous complete copy or the new complete one, never a half-written file.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from agent import config as config_module
from agent.catalog.files import fsync_path

EXIT_OK, EXIT_FAILURE = 0, 1
DEFAULT_PAGES = 256          # one step copies 1 MiB of 4 KiB pages
DEFAULT_PAUSE_S = 0.01       # between steps: the lane's commits get the disk
SPACE_MARGIN = 1 << 20       # the copy's journal and the file system's own blocks
SQLITE_FULL, SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_NOTADB = 13, 10, 11, 26
SQLITE_ACCESS = (3, 8, 14)   # SQLITE_PERM, SQLITE_READONLY, SQLITE_CANTOPEN
Progress = Callable[[int, int], None]   # (pages copied, pages in all)


class BackupError(Exception):
    """A backup that could not be made; the message names the cause and the fix. DEST is left as it was."""


@dataclass(frozen=True, slots=True)
class Copied:
    source: Path
    target: Path
    size_bytes: int
    seconds: float


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("backup", help="copy lane.db and the catalog into DEST, consistent, while the agent runs")
    parser.add_argument("dest", type=Path, metavar="DEST", help="a directory (created if its parent exists)")
    parser.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="config file")
    parser.add_argument("--state-dir", type=Path, help="state directory (default: [agent] state_dir)")
    parser.add_argument("--no-catalog", action="store_true", help="copy lane.db only (the cloud can resend the "
                                                                  "catalog)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    state_dir = args.state_dir
    if state_dir is None:
        config = config_module.load(config_module.resolve_path(getattr(args, "config", None)), check_devices=False)
        state_dir = config.agent.state_dir
    try:
        copies = backup_state(Path(state_dir), args.dest, catalog=not args.no_catalog, progress=_progress())
    except BackupError as exc:
        _end_progress()
        print(f"omo-edge: backup failed: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    _end_progress()
    for copy in copies:
        print(f"{copy.source} -> {copy.target}: {copy.size_bytes / 1e6:.1f} MB, integrity ok, {copy.seconds:.1f} s")
    print(_outbox_line(copies[0].target))
    return EXIT_OK


def backup_state(state_dir: Path, dest: Path, *, catalog: bool = True, pages: int = DEFAULT_PAGES,
                 pause_s: float = DEFAULT_PAUSE_S, progress: Progress | None = None) -> list[Copied]:
    """Copy `state_dir`/lane.db, and unless `catalog` is False the current catalog generation with its
    pointer, into the directory `dest`; raise BackupError naming the cause and the fix."""
    from agent.catalog.files import FILE_PREFIX, read_pointer, write_pointer

    lane = state_dir / "lane.db"
    if not lane.is_file():
        raise BackupError(f"no lane.db in {state_dir}. Fix: check [agent] state_dir in the config (or pass "
                          "--state-dir); the agent creates lane.db when it first runs there")
    _prepare(dest, state_dir)
    copies = [copy_database(lane, dest / "lane.db", pages=pages, pause_s=pause_s, progress=progress)]
    name = read_pointer(state_dir) if catalog else None
    if name is not None and (state_dir / name).is_file():
        copies.append(copy_database(state_dir / name, dest / name, pages=pages, pause_s=pause_s, progress=progress))
        try:
            write_pointer(dest, name)
        except OSError as exc:
            raise _os_error(exc, dest, copies[-1].size_bytes) from exc
        for old in dest.glob(f"{FILE_PREFIX}*.db"):   # earlier backups' generations: the pointer names this one
            if old.name != name:
                old.unlink(missing_ok=True)
    return copies


def _prepare(dest: Path, state_dir: Path) -> None:
    if dest.resolve() == state_dir.resolve():
        raise BackupError(f"{dest} is the state directory itself. Fix: give another directory, ideally on "
                          "another disk")
    if not dest.parent.is_dir():
        raise BackupError(f"{dest.parent} does not exist. Fix: create it, or mount the drive it is on")
    try:
        dest.mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise _os_error(exc, dest, 0) from exc
    if not dest.is_dir():
        raise BackupError(f"{dest} is not a directory. Fix: give a directory for the copies")


def copy_database(source: Path, target: Path, *, pages: int = DEFAULT_PAGES, pause_s: float = DEFAULT_PAUSE_S,
                  progress: Progress | None = None) -> Copied:
    """Copy one SQLite file as of one instant into `target` (see the module docstring for how)."""
    for suffix in ("-wal", "-shm"):
        if Path(f"{target}{suffix}").exists():
            raise BackupError(f"{target}{suffix} exists: a program has the copy in {target.parent} open (or it is "
                              "a live state directory), and its WAL would be applied to the new copy. Fix: close "
                              "that program, or give another DEST")
    temporary = target.with_name(f".{target.name}.{os.getpid()}.partial")
    started = time.monotonic()
    size = 0
    try:
        with _snapshot(source) as src:
            size = src.execute("PRAGMA page_count").fetchone()[0] * src.execute("PRAGMA page_size").fetchone()[0]
            _create(temporary, size)
            _check_space(target.parent, size)
            dst = sqlite3.connect(temporary, isolation_level=None)
            try:
                dst.execute("PRAGMA synchronous = OFF")   # fsynced once, below, before the rename
                src.backup(dst, pages=pages, progress=_pace(pause_s, progress))
                dst.execute("PRAGMA journal_mode = DELETE")
                problem = "; ".join(str(row[0]) for row in dst.execute("PRAGMA integrity_check"))
            finally:
                dst.close()
        if problem != "ok":
            raise BackupError(f"the copy of {source} failed SQLite's integrity check ({problem[:200]}), so "
                              f"nothing in {target.parent} was replaced. The file itself may be damaged. Fix: keep "
                              "it; the agent moves a damaged lane.db aside at its next start (docs/architecture.md)")
        fsync_path(temporary)
        os.replace(temporary, target)
        fsync_path(target.parent)
    except sqlite3.Error as exc:
        raise _sqlite_error(exc, source, target, size) from exc
    except OSError as exc:
        raise _os_error(exc, target.parent, size) from exc
    finally:
        for leftover in (temporary, Path(f"{temporary}-journal")):
            if leftover.exists():
                leftover.unlink()
    return Copied(source, target, size, time.monotonic() - started)


@contextlib.contextmanager
def _snapshot(source: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection inside one read transaction: every read sees the database as of its start."""
    conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()   # takes the snapshot now
        yield conn
    finally:
        conn.close()


def _pace(pause_s: float, progress: Progress | None) -> Callable[[int, int, int], None]:
    def step(_status: int, remaining: int, total: int) -> None:
        if progress is not None:
            progress(total - remaining, total)
        if remaining:
            time.sleep(pause_s)
    return step


def _check_space(directory: Path, size: int) -> None:
    st = os.statvfs(directory)
    free = st.f_bavail * st.f_frsize
    if free < size + SPACE_MARGIN:
        raise BackupError(f"not enough space in {directory}: the copy needs {_mb(size + SPACE_MARGIN)}, "
                          f"{_mb(free)} is free. Fix: free space there, or give a DEST on a larger disk")


def _create(path: Path, size: int) -> None:
    """Create the copy's file, only for this user (it holds sales and member IDs)."""
    try:
        if path.exists():                # a crashed backup with this process ID
            path.unlink()
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise _os_error(exc, path.parent, size) from exc


def _os_error(exc: OSError, directory: Path, size: int) -> BackupError:
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return BackupError(f"{directory} is not writable by this user ({exc.strerror}). Fix: give a directory "
                           "this user may write (run as root, or as the service user: sudo -u omo-edge ...), "
                           "or mount the drive read-write")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return _disk_full(directory, size)
    return BackupError(f"{exc}. Fix: check {directory} and its disk (dmesg)")


def _sqlite_error(exc: sqlite3.Error, source: Path, target: Path, size: int) -> BackupError:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code == SQLITE_FULL:
        return _disk_full(target.parent, size)
    if code == SQLITE_IOERR:
        return BackupError(f"I/O error while copying {source} to {target} ({exc}). Fix: check both disks (dmesg)")
    if code in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return BackupError(f"{source} is damaged or not a database ({exc}). Fix: keep it; the agent moves a "
                           "damaged lane.db aside at its next start (docs/architecture.md)")
    if code in SQLITE_ACCESS:
        return BackupError(f"cannot open {source} ({exc}). Fix: run as root or as the service user "
                           "(sudo -u omo-edge ...), who may read the state directory and its -shm file")
    return BackupError(f"cannot copy {source} to {target} ({exc})")


def _disk_full(directory: Path, size: int) -> BackupError:
    return BackupError(f"the disk holding {directory} is full (the copy needs {_mb(size + SPACE_MARGIN)}); "
                       "nothing there was replaced. Fix: free space there, or give a DEST on a larger disk")


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _outbox_line(lane_copy: Path) -> str:
    """What the copy holds that the cloud had not confirmed when it was taken (it matters for a restore)."""
    from agent.store import readonly
    from agent.sync import outbox

    try:
        with readonly(lane_copy) as conn:
            report = outbox.depth(conn)
    except (sqlite3.Error, TypeError):   # a lane.db that never recorded its lane: nothing to say
        return "lane.db copy: no outbox yet"
    waiting = sum(report["outbox_depth"].values())
    return f"lane.db copy: last seq {report['last_seq']}, {waiting} events not yet confirmed by the cloud"


def _progress() -> Progress | None:
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        print(f"\rcopying: {100 * done / max(1, total):5.1f}%", end="", file=sys.stderr, flush=True)

    return show


def _end_progress() -> None:
    if sys.stderr.isatty():
        print(file=sys.stderr)
