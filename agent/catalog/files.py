"""The catalog's files in the state directory: the pointer to the current generation and the load lock.

The pointer is replaced atomically and durably, so after a crash it names either the old complete
generation or the new complete one, never a half-written file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

POINTER = "catalog.current"
LOCK = "catalog.lock"
FILE_PREFIX = "catalog-"


def read_pointer(state_dir: Path) -> str | None:
    """The current generation's file name, or None when no catalog was ever loaded."""
    try:
        name = (state_dir / POINTER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name if name.startswith(FILE_PREFIX) and "/" not in name else None


def write_pointer(state_dir: Path, name: str) -> None:
    """Point at a new generation durably: write a temporary file, fsync, rename, fsync the directory."""
    temporary = state_dir / f"{POINTER}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, state_dir / POINTER)
    fsync_dir(state_dir)


def remove_pointer(state_dir: Path) -> str | None:
    """Forget the current generation durably (`omo-edge catalog reset`); return the name it had, if any."""
    name = read_pointer(state_dir)
    try:
        (state_dir / POINTER).unlink()
    except FileNotFoundError:
        return None
    fsync_dir(state_dir)
    return name


def fsync_path(path: Path) -> None:
    """fsync a file or a directory by its path (a directory's entry changes survive a power cut only so)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


fsync_dir = fsync_path      # the name the catalog's writers use for directories


@contextlib.contextmanager
def catalog_lock(state_dir: Path, *, wait: bool = True) -> Iterator[bool]:
    """Serialise loads between the agent and `omo-edge catalog import` (flock on `catalog.lock`)."""
    fd = os.open(state_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
