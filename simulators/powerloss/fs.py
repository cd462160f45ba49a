"""The power-loss layer as a FUSE filesystem (mfusepy over libfuse3): a passthrough to a backing directory that
records, in a `Journal`, how to undo every change no fsync has covered.

Writes reach the backing file at once (libfuse's default, no writeback cache: each write(2) is one call
here, in order), so readers see them as they would see a page cache. Not modelled: hard links, symlinks,
extended attributes and fallocate (ENOSYS: SQLite does without them); advisory locks are left to the
kernel (no `lock` operation: the kernel keeps POSIX locks for the mount itself, which is what SQLite's
locking and its -shm need). Shared mmap works (no direct_io), so SQLite's -shm is an ordinary file here,
never synced, and a cut drops it like any other unsynced file; SQLite rebuilds it on the next open.
"""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path
from typing import Any

import mfusepy

from simulators.powerloss.journal import CONTROL, Journal

STAT_FIELDS = ("st_mode", "st_ino", "st_dev", "st_nlink", "st_uid", "st_gid", "st_size", "st_blksize",
               "st_blocks")


def hidden(path: str) -> bool:
    return path == f"/{CONTROL}" or path.startswith(f"/{CONTROL}/")


class PowerLossFS(mfusepy.Operations):
    """The FUSE operations: each change is made under the journal's lock, after its undo is recorded."""

    use_ns = True

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.mounted = threading.Event()

    def _real(self, path: str) -> str:
        if hidden(path):
            raise mfusepy.FuseOSError(errno.ENOENT)
        return self.journal.real(path)

    def init(self, path: str) -> None:
        self.mounted.set()

    # -- reading -----------------------------------------------------------------------------------------
    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        st = os.fstat(fh) if fh is not None else os.lstat(self._real(path))
        attrs: dict[str, Any] = {key: getattr(st, key) for key in STAT_FIELDS}
        attrs.update(st_atime=st.st_atime_ns, st_mtime=st.st_mtime_ns, st_ctime=st.st_ctime_ns)
        return attrs

    def readdir(self, path: str, fh: int) -> list[str]:
        names = [n for n in os.listdir(self._real(path)) if not (path == "/" and n == CONTROL)]
        return [".", "..", *names]

    def statfs(self, path: str) -> dict[str, int]:
        sv = os.statvfs(self._real(path))
        return {key: getattr(sv, key) for key in ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail",
                                                    "f_files", "f_ffree", "f_favail", "f_flag", "f_namemax")}

    def open(self, path: str, flags: int) -> int:
        # Always read-write: a write must read the bytes it replaces first. O_APPEND would make pwrite ignore
        # the offset the kernel gives (it computed it already); the kernel handled O_CREAT and O_TRUNC.
        drop = os.O_ACCMODE | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_TRUNC
        return os.open(self._real(path), (flags & ~drop) | os.O_RDWR)

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        return os.pread(fh, size, offset)

    def release(self, path: str, fh: int) -> int:
        os.close(fh)
        return 0

    def flush(self, path: str, fh: int) -> int:
        return 0                       # close(2) makes nothing durable

    # -- file contents -------------------------------------------------------------------------------------
    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        with self.journal.lock:
            self.journal.before_write(fh, offset, len(data))
            return os.pwrite(fh, data, offset)

    def truncate(self, path: str, length: int, fh: int | None = None) -> int:
        with self.journal.lock:
            fd = fh if fh is not None else os.open(self._real(path), os.O_RDWR)
            try:
                self.journal.before_truncate(fd, length)
                os.ftruncate(fd, length)
            finally:
                if fh is None:
                    os.close(fd)
        return 0

    def fsync(self, path: str, datasync: int, fh: int) -> int:
        # The backing file is not fsynced: the backing directory stands for the disk, and the durability of the
        # machine's real disk is not what is under test (an fsync there would only slow every trial).
        self.journal.file_synced(fh)
        return 0

    def fsyncdir(self, path: str, datasync: int, fh: int) -> int:
        self.journal.dir_synced(path)
        return 0

    # -- directory entries -------------------------------------------------------------------------------
    def create(self, path: str, mode: int, fi: Any = None) -> int:
        real = self._real(path)
        with self.journal.lock:
            fd = os.open(real, os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)
            self.journal.named("create", path)
        return fd

    def mkdir(self, path: str, mode: int) -> int:
        with self.journal.lock:
            os.mkdir(self._real(path), mode)
            self.journal.named("mkdir", path)
        return 0

    def rmdir(self, path: str) -> int:
        with self.journal.lock:
            os.rmdir(self._real(path))
            self.journal.named("rmdir", path)
        return 0

    def unlink(self, path: str) -> int:
        real = self._real(path)
        with self.journal.lock:
            if not os.path.lexists(real):
                raise mfusepy.FuseOSError(errno.ENOENT)
            self.journal.named("unlink", path, buried=self.journal.bury(path))
        return 0

    def rename(self, old: str, new: str) -> int:
        src, dst = self._real(old), self._real(new)
        with self.journal.lock:
            if not os.path.lexists(src):
                raise mfusepy.FuseOSError(errno.ENOENT)
            buried = ""
            if os.path.lexists(dst):
                if os.path.isdir(dst):
                    if os.listdir(dst):
                        raise mfusepy.FuseOSError(errno.ENOTEMPTY)
                    os.rmdir(dst)
                    self.journal.named("rmdir", new)
                else:
                    buried = self.journal.bury(new)
            os.rename(src, dst)
            self.journal.named("rename", old, target=new, buried=buried)
        return 0

    # -- metadata, passed through and not modelled -----------------------------------------------------------
    def chmod(self, path: str, mode: int) -> int:
        os.chmod(self._real(path), mode)
        return 0

    def chown(self, path: str, uid: int, gid: int) -> int:
        os.chown(self._real(path), uid, gid)
        return 0

    def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
        os.utime(self._real(path), ns=times) if times else os.utime(self._real(path))
        return 0


def serve(backing: Path, mountpoint: Path, fs: PowerLossFS) -> None:
    """Run the filesystem until it is unmounted (blocks; libfuse's threads call the operations)."""
    mfusepy.FUSE(fs, str(mountpoint), foreground=True, nothreads=False, fsname=f"powerloss:{backing}",
                 subtype="powerloss", allow_other=True)
