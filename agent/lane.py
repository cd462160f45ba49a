"""The lane database (lane.db): scans, sales, the outbox and the token replay cache; never thrown away.

Each component that keeps state here contributes its own named migrations.
"""

from __future__ import annotations

from pathlib import Path

from agent import replay, sync_db
from agent.store import Database


def open_lane_db(state_dir: Path, store_id: str, lane_id: str) -> Database:
    """Open (checking, moving aside if corrupt, migrating) lane.db and record which lane it belongs to."""
    return sync_db.open_sync_db(state_dir / "lane.db", store_id, lane_id,
                                extra={replay.COMPONENT: replay.MIGRATIONS})
