"""Opening lane.db with the sync tables (outbox, sales, scans) and the lane's identity recorded."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from agent import outbox, remote, sales, scans
from agent.store import Database, Migration


def sync_migrations() -> dict[str, Sequence[Migration]]:
    """The migrations this area contributes to lane.db, keyed by component."""
    return {"outbox": outbox.MIGRATIONS, "sales": sales.MIGRATIONS, "scans": scans.MIGRATIONS,
            "remote": remote.MIGRATIONS}


def open_sync_db(path: Path, store_id: str, lane_id: str,
                 extra: dict[str, Sequence[Migration]] | None = None) -> Database:
    """Open lane.db (`extra` are other components' migrations, applied first) and record the lane identity."""
    db = Database.open(path, {**(extra or {}), **sync_migrations()})
    db.write_blocking(outbox.set_identity, store_id, lane_id)
    return db
