"""Verify and load a catalog snapshot (JSON Lines, optionally gzip) into a new generation, then swap it in.

Streamed line by line in constant memory. The new file is written with journaling and fsync off because
nobody can see it until it is complete: it is fsynced once, renamed, and only then named by the pointer.
Any failure (a bad line, a wrong count or checksum, a missing trailer, an older version) deletes the new
file and leaves the current catalog serving. Call from a worker thread, never on the event loop.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.catalog.batch import BatchWriter
from agent.catalog.db import CatalogDb, read_status
from agent.catalog.fields import CatalogLineError
from agent.catalog.files import catalog_lock, fsync_dir, write_pointer
from agent.catalog.lines import MAX_LINE_BYTES, Record, Trailer, parse_line
from agent.catalog.records import CatalogStatus
from agent.catalog.schema import KINDS, migrations
from agent.errors import AgentError
from agent.store import apply_migrations, translate

logger = logging.getLogger(__name__)

INSERT = {
    "product": "INSERT INTO products VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "price": "INSERT INTO prices VALUES (?,?,?,?,?,?)",
    "promotion": "INSERT INTO promotions VALUES (?,?,?,?,?,?,?,?,?,?,?)",
    "promotion_items": "INSERT INTO promotion_items VALUES (?,?)",
    "coupon": "INSERT INTO coupons VALUES (?,?,?,?,?,?,?,?)",
    "member": "INSERT INTO members VALUES (?,?,?,?,?,?,?,?,?,?)",
    "member_cards": "INSERT INTO member_cards VALUES (?,?,?)",
    "order": "INSERT INTO orders VALUES (?,?,?,?,?,?)",
    "key": "INSERT INTO trusted_keys VALUES (?,?,?,?,?)",
    "policy": "INSERT INTO policy VALUES (?,?,?)",
    "sale_stop": "INSERT INTO sale_stops VALUES (?,?,?,?,?,?)",
}
CHILD_TABLE = {"promotion": "promotion_items", "member": "member_cards"}
Progress = Callable[[int, int], None]   # (bytes read from the source file, lines read)


SOURCES = ("cloud", "import")


class OlderSnapshot(AgentError):
    """The snapshot is not newer than the catalog in use; versions only move forward."""

    def __init__(self, offered: int, current: int, *, source: str = "cloud", floor_is_cloud: bool = False) -> None:
        self.offered, self.current, self.floor_is_cloud = offered, current, floor_is_cloud
        if offered == current:
            message = f"snapshot version {offered} is the one already loaded; it was not loaded again"
        elif floor_is_cloud:
            message = (f"snapshot version {offered} is older than the cloud catalog {current} this lane already "
                       "loaded; a replay or a rollback is refused. Fix: publish a snapshot with a higher version")
        elif source == "import":
            message = (f"snapshot version {offered} is not newer than the loaded catalog's {current}, so it was "
                       "refused. Fix: give the file a higher version, or run `omo-edge catalog reset` first")
        else:
            message = (f"snapshot version {offered} is older than the loaded catalog's {current}; versions only "
                       "move forward, so it was refused. Fix: publish a snapshot with a higher version")
        super().__init__(message)


def admit(offered: int, source: str, current: CatalogStatus) -> None:
    """Refuse a snapshot that may not replace `current` (pure; the rule of docs/catalog.md "Sources").

    Within a source versions only move forward. The cloud's snapshot supersedes a catalog that is not the
    cloud's (a hand import, or an older agent's file) whatever its version, as long as it is not older than
    the newest cloud catalog this lane had: a hand import can never wedge the lane, and a replay stays refused.
    """
    if source == "cloud" and current.loaded and not current.from_cloud:
        if offered < current.cloud_version:
            raise OlderSnapshot(offered, current.cloud_version, floor_is_cloud=True)
        return
    if offered <= current.version:
        raise OlderSnapshot(offered, current.version, source=source)


@dataclass(frozen=True, slots=True)
class LoadResult:
    version: int
    counts: dict[str, int]
    lines: int
    seconds: float
    path: Path


def open_source(path: Path) -> tuple[io.BufferedIOBase, io.BufferedReader]:
    """(line reader, raw file): gzip is recognised by its magic bytes, not the name."""
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw
    return raw, raw


def load_snapshot(catalog: CatalogDb, source: Path, *, etag: str | None = None,
                  progress: Progress | None = None, swap: bool = True, origin: str = "cloud") -> LoadResult:
    """Verify every line of `source`, load it into a new generation and install it; all or nothing.

    With `swap` the generation also becomes `catalog`'s current one; without, only the pointer file moves
    (the CLI and the load worker: the agent follows the pointer). `origin` is where it came from: "cloud" (a
    pull) or "import" (`omo-edge catalog import`); `admit` says which may replace which.
    """
    if origin not in SOURCES:
        raise ValueError(f"origin must be one of {SOURCES}, got {origin!r}")
    clock = catalog.clock
    started = clock.monotonic()
    with catalog_lock(catalog.state_dir):
        result = _load_locked(catalog, source, etag, progress, swap, origin)
    logger.info("catalog loaded version=%d source=%s lines=%d seconds=%.1f counts=%s", result.version, origin,
                result.lines, clock.monotonic() - started, json.dumps(result.counts, separators=(",", ":")))
    return result


def _load_locked(catalog: CatalogDb, source: Path, etag: str | None, progress: Progress | None,
                 swap: bool, origin: str) -> LoadResult:
    started = catalog.clock.monotonic()
    # The pointer is the truth: another process may have installed (or reset) the catalog since ours was opened.
    current = read_status(catalog.state_dir, catalog.clock)
    provenance = {"source": origin,
                  "cloud_version": str(current.cloud_version if origin == "import" else 0),
                  **({"imported_from": str(source.resolve())} if origin == "import" else {})}
    loading = catalog.state_dir / f"catalog-{uuid.uuid4().hex[:12]}.db.loading"
    try:
        reader, raw = open_source(source)
    except OSError as exc:
        raise CatalogLineError(0, f"cannot read {source}: {exc}") from exc
    try:
        with reader, raw:
            trailer, counts, lines = _write_generation(loading, reader, raw, (origin, current), etag, progress,
                                                       catalog.clock.time(), provenance)
        final = catalog.state_dir / f"catalog-v{trailer.version}-{time.time_ns()}.db"
        os.replace(loading, final)
        fsync_dir(catalog.state_dir)
        if swap:
            catalog.swap(final)
        else:
            write_pointer(catalog.state_dir, final.name)
    except BaseException:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{loading}{suffix}").unlink(missing_ok=True)
        raise
    return LoadResult(trailer.version, counts, lines, catalog.clock.monotonic() - started, final)


def _write_generation(path: Path, reader: io.BufferedIOBase, raw: io.BufferedIOBase,
                      replacing: tuple[str, CatalogStatus], etag: str | None, progress: Progress | None,
                      loaded_at: float, provenance: dict[str, str]) -> tuple[Trailer, dict[str, int], int]:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)  # BatchWriter's thread
    try:
        apply_migrations(conn, path, migrations())
        # Unseen until renamed and fsynced below, so no journal and no per-commit fsync are needed.
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -16384", "temp_store = MEMORY"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("BEGIN")
        trailer, counts, lines = _stream(conn, reader, raw, progress)
        admit(trailer.version, *replacing)
        now = str(loaded_at)
        if provenance["source"] == "cloud":
            provenance = {**provenance, "cloud_version": str(trailer.version)}
        meta = {"version": str(trailer.version), "loaded_at": now, "checked_at": now, "sha256": trailer.sha256,
                "counts": json.dumps(counts), **provenance, **({"etag": etag} if etag else {})}
        conn.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode = WAL")
    except sqlite3.Error as exc:
        raise translate(exc, f"loading the catalog into {path.name}") from exc
    finally:
        conn.close()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return trailer, counts, lines


def _stream(conn: sqlite3.Connection, reader: io.BufferedIOBase, raw: io.BufferedIOBase,
            progress: Progress | None) -> tuple[Trailer, dict[str, int], int]:
    """Read, check and insert every line; return the verified trailer, counts per kind and lines read."""
    digest = hashlib.sha256()
    counts = dict.fromkeys(KINDS, 0)
    trailer: Trailer | None = None
    newest = line = 0
    with BatchWriter(conn, INSERT, CHILD_TABLE) as batches:
        while raw_line := reader.readline(MAX_LINE_BYTES + 1):
            line += 1
            if trailer is not None:
                raise CatalogLineError(line, "text after the trailer line; the trailer must be the last line")
            if len(raw_line) > MAX_LINE_BYTES:
                raise CatalogLineError(line, f"line is longer than {MAX_LINE_BYTES} bytes")
            parsed = parse_line(raw_line, line)
            if type(parsed) is Record:
                digest.update(raw_line)
                counts[parsed.kind] += 1
                newest = max(newest, parsed.version)
                batches.add(parsed, line)
            elif type(parsed) is Trailer:
                trailer = parsed
            else:
                raise CatalogLineError(line, "deletes and delta headers belong in deltas, not in a snapshot")
            if progress is not None and line % 50000 == 0:
                progress(raw.tell(), line)
        batches.finish()
    return _verify(trailer, counts, digest.hexdigest(), newest, line), counts, line


def _verify(trailer: Trailer | None, counts: dict[str, int], digest: str, newest: int, lines: int) -> Trailer:
    if trailer is None:
        raise CatalogLineError(0, f"no trailer line after {lines} lines: the snapshot is truncated or not a "
                                  "catalog; it must end with {\"kind\": \"trailer\", \"count\", \"sha256\", ...}")
    total = sum(counts.values())
    if trailer.records != total:
        raise CatalogLineError(lines, f"the trailer says {trailer.records} records but {total} were read")
    if trailer.sha256 != digest:
        raise CatalogLineError(lines, f"checksum mismatch: trailer sha256 {trailer.sha256[:12]}..., "
                                      f"content {digest[:12]}...; the snapshot was damaged or altered")
    if newest > trailer.version:
        raise CatalogLineError(lines, f"a record has version {newest}, newer than the snapshot's {trailer.version}")
    return trailer
