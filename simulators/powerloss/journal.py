"""What a power cut would undo: the writes and directory changes that no fsync has covered yet.

The layer (`simulators/powerloss/fs.py`) writes through to a backing directory at once, so that every
process sees its own writes as on a real disk with a page cache. Before each change it records here how to
undo it; an fsync of the file (or of the directory) forgets those records, because from then on the change
is durable. `cut()` replays the records backwards on the backing directory, which leaves it as the disk
would be after the power came back: only what was synced.

The model (docs/testing-power-loss.md):
- File contents: `write` and `truncate` are undone unless an `fsync` or `fdatasync` of that file came after
  them. Both sync the data and the size (Linux's fdatasync flushes the size needed to read the data);
  timestamps and modes are not modelled. An undo restores whole writes: no torn sectors.
- Directory entries (create, mkdir, unlink, rmdir, rename): undone unless an fsync of every directory the
  change touched came after it. This is POSIX's strict reading, harsher than ext4, where an fsync of a new
  file usually commits its name too; SQLite syncs the directory itself after creating a journal or WAL.
- An unlinked (or replaced) file is kept under `.powerloss/` in the backing directory until its removal is
  durable, so that a cut can bring it back.
Changes made while a sync runs are ordered by one lock, as if the disk wrote them in the order they came.
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

CONTROL = ".powerloss"        # inside the backing directory, hidden from the mount


@dataclass(frozen=True, slots=True)
class ContentUndo:
    """Put `old` back at `offset`, then cut the file back to `old_size`."""

    offset: int
    old: bytes
    old_size: int


@dataclass(slots=True)
class NameUndo:
    """One directory change not yet durable: `kind` is create, mkdir, unlink, rmdir or rename."""

    kind: str
    path: str                   # relative to the backing directory
    target: str = ""            # rename's new name
    buried: str = ""            # the unlinked or replaced file, kept under CONTROL/
    dirs: set[str] = field(default_factory=set)     # directories whose fsync has not come yet


@dataclass(frozen=True, slots=True)
class CutReport:
    files_reverted: int
    writes_discarded: int
    bytes_restored: int
    names_reverted: int

    def __str__(self) -> str:
        return (f"files={self.files_reverted} writes={self.writes_discarded} bytes={self.bytes_restored} "
                f"names={self.names_reverted}")


def parent(path: str) -> str:
    return os.path.dirname(path.rstrip("/")) or "/"


class Journal:
    """The undo records of one mount of the layer over `backing`; every method is safe from any thread."""

    def __init__(self, backing: Path) -> None:
        self.backing = backing
        self.control = backing / CONTROL
        self.control.mkdir(exist_ok=True)
        self._lock = threading.RLock()
        self._content: dict[int, list[ContentUndo]] = {}        # by inode
        self._names: list[NameUndo] = []
        self._buried = 0

    def real(self, path: str) -> str:
        """The backing path of a path in the mount ("/lane.db")."""
        return str(self.backing) + path

    def before_write(self, fd: int, offset: int, length: int) -> None:
        """Record the bytes a write at `offset` will overwrite (call with the lock held, see `changing`)."""
        st = os.fstat(fd)
        keep = max(0, min(length, st.st_size - offset))
        old = os.pread(fd, keep, offset) if keep else b""
        self._content.setdefault(st.st_ino, []).append(ContentUndo(offset, old, st.st_size))

    def before_truncate(self, fd: int, length: int) -> None:
        st = os.fstat(fd)
        old = os.pread(fd, st.st_size - length, length) if st.st_size > length else b""
        self._content.setdefault(st.st_ino, []).append(ContentUndo(length, old, st.st_size))

    @property
    def lock(self) -> threading.RLock:
        """Held around each change and its record, so the records are in the order the changes happened."""
        return self._lock

    def file_synced(self, fd: int) -> None:
        """fsync or fdatasync of a file: its writes so far are durable."""
        ino = os.fstat(fd).st_ino
        with self._lock:
            self._content.pop(ino, None)

    def dir_synced(self, path: str) -> None:
        """fsync of a directory: its entries' changes so far are durable (once every directory they touched is)."""
        with self._lock:
            for op in self._names:
                op.dirs.discard(path)
            for op in [op for op in self._names if not op.dirs]:
                self._names.remove(op)
                if op.buried:
                    self._forget(op.buried)

    def named(self, kind: str, path: str, target: str = "", buried: str = "") -> None:
        """Record a directory change just made (with the lock held)."""
        dirs = {parent(path)} | ({parent(target)} if target else set())
        self._names.append(NameUndo(kind, path, target, buried, dirs))

    def bury(self, path: str) -> str:
        """Move the file at `path` aside instead of deleting it; returns its name under CONTROL/."""
        self._buried += 1
        name = f"{self._buried}"
        os.rename(self.real(path), self.control / name)
        return name

    def _forget(self, buried: str) -> None:
        target = self.control / buried
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)

    def pending(self) -> tuple[int, int]:
        """(writes, directory changes) a cut would undo now."""
        with self._lock:
            return sum(len(v) for v in self._content.values()), len(self._names)

    def cut(self) -> CutReport:
        """Undo everything not durable, newest first, on the backing directory (after the unmount)."""
        with self._lock:
            where = self._inodes()
            restored = writes = 0
            for ino, undos in self._content.items():
                path = where.get(ino)
                if path is None:
                    continue                   # removed for good (durably) since
                with open(path, "r+b", buffering=0) as f:
                    for undo in reversed(undos):
                        os.pwrite(f.fileno(), undo.old, undo.offset)
                        os.ftruncate(f.fileno(), undo.old_size)
                        restored += len(undo.old)
                writes += len(undos)
            for op in reversed(self._names):
                self._undo_name(op)
            report = CutReport(len(self._content), writes, restored, len(self._names))
            self._content.clear()
            self._names.clear()
            self.settle()
            return report

    def settle(self) -> None:
        """Forget the files kept for undoing removals (after a cut, or a clean unmount that keeps everything)."""
        shutil.rmtree(self.control, ignore_errors=True)

    def _inodes(self) -> dict[int, str]:
        found: dict[int, str] = {}
        for root, _dirs, files in os.walk(self.backing):
            for name in files:
                path = os.path.join(root, name)
                found[os.lstat(path).st_ino] = path
        return found

    def _undo_name(self, op: NameUndo) -> None:
        real = self.real(op.path)
        if op.kind == "create":
            os.unlink(real)
        elif op.kind == "mkdir":
            shutil.rmtree(real)
        elif op.kind == "rmdir":
            os.mkdir(real)
        elif op.kind == "unlink":
            os.rename(self.control / op.buried, real)
        elif op.kind == "rename":
            os.rename(self.real(op.target), real)
            if op.buried:
                os.rename(self.control / op.buried, self.real(op.target))
