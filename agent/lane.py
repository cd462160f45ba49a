"""The lane database (lane.db): scans, sales, the outbox and the replay cache; never thrown away.

Each component that keeps state here contributes its own named migrations; they are applied in the
order listed, each in its own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from agent.store import Database, Migration

MIGRATIONS = [
    Migration("m001_lane_meta", """
        CREATE TABLE lane_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """),
]


def lane_migrations() -> dict[str, Sequence[Migration]]:
    """Every component's migrations for lane.db, in application order."""
    return {"lane": MIGRATIONS}


def open_lane_db(state_dir: Path) -> Database:
    """Open (checking, repairing by moving aside, migrating) the lane database."""
    return Database.open(state_dir / "lane.db", lane_migrations())
