"""Opening lane.db with the sync tables (outbox, sales, scans) and the lane's identity recorded."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from agent import outbox, remote, sales, scans
from agent.store import Database, Migration

# The commit that finds the WAL this long checkpoints it, holding the single writer meanwhile. SQLite's 1000
# pages (4 MB) made a sale wait up to 15-35 ms behind one during a drain; 250 pages keeps each under ~3 ms
# (bench/drain.py: scan-to-commit p99 during the drain).
LANE_CHECKPOINT_PAGES = 250


def sync_migrations() -> dict[str, Sequence[Migration]]:
    """The migrations this area contributes to lane.db, keyed by component."""
    return {"outbox": outbox.MIGRATIONS, "sales": sales.MIGRATIONS, "scans": scans.MIGRATIONS,
            "remote": remote.MIGRATIONS}


def open_sync_db(path: Path, store_id: str, lane_id: str,
                 extra: dict[str, Sequence[Migration]] | None = None) -> Database:
    """Open lane.db (`extra` are other components' migrations, applied first) and record the lane identity."""
    db = Database.open(path, {**(extra or {}), **sync_migrations()}, checkpoint_pages=LANE_CHECKPOINT_PAGES)
    db.write_blocking(outbox.set_identity, store_id, lane_id)
    return db
