"""The lane database (lane.db): scans, sales, sessions, pickup claims, the outbox and the token replay cache; never
thrown away.

Each component that keeps state here contributes its own named migrations; this module is where they meet,
which is why it sits at the composition root rather than in any one package.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from agent.attendant import records as attendant_records
from agent.bagging import records as bagging_records
from agent.payment import intents
from agent.session.records import pickup_claims, sales, scans, seen_tokens, visits
from agent.store import Database, Migration
from agent.sync import commands, outbox

# The commit that finds the WAL this long checkpoints it, holding the single writer meanwhile. SQLite's 1000
# pages (4 MB) made a sale wait up to 15-35 ms behind one during a drain; 250 pages keeps each under ~3 ms
# (bench/drain.py: scan-to-commit p99 during the drain).
LANE_CHECKPOINT_PAGES = 250

# For tests only: the power-cut campaign's control run (bench/soak_power.py --synchronous NORMAL) opens lane.db
# with synchronous=NORMAL, to prove that the campaign sees a loss when commits are not fsynced. Not a config key
# on purpose: no lane should ever sell with it, and the agent says so loudly when it is set.
TEST_SYNCHRONOUS_ENV = "OMO_EDGE_TEST_LANE_SYNCHRONOUS"

logger = logging.getLogger(__name__)


def lane_synchronous() -> str:
    """FULL, unless a test asked for NORMAL through TEST_SYNCHRONOUS_ENV (anything else is refused)."""
    value = os.environ.get(TEST_SYNCHRONOUS_ENV, "FULL").upper()
    if value not in ("FULL", "NORMAL"):
        raise ValueError(f"{TEST_SYNCHRONOUS_ENV}={value!r}: only FULL or NORMAL (and NORMAL only in tests)")
    if value != "FULL":
        logger.critical("lane.db opened with synchronous=%s because %s is set: a power cut may lose paid "
                        "sales. This is for the power-cut tests only; unset it", value, TEST_SYNCHRONOUS_ENV)
    return value


def sync_migrations() -> dict[str, Sequence[Migration]]:
    """The migrations of the recording and sync tables (outbox, sales, scans, cloud commands), by component."""
    return {"outbox": outbox.MIGRATIONS, "sales": sales.MIGRATIONS, "scans": scans.MIGRATIONS,
            "remote": commands.MIGRATIONS}


def open_sync_db(path: Path, store_id: str, lane_id: str,
                 extra: dict[str, Sequence[Migration]] | None = None) -> Database:
    """Open lane.db (`extra` are other components' migrations, applied first) and record the lane identity."""
    db = Database.open(path, {**(extra or {}), **sync_migrations()}, checkpoint_pages=LANE_CHECKPOINT_PAGES,
                       synchronous=lane_synchronous())
    db.write_blocking(outbox.set_identity, store_id, lane_id)
    return db


def open_lane_db(state_dir: Path, store_id: str, lane_id: str) -> Database:
    """Open (checking, moving aside if corrupt, migrating) lane.db and record which lane it belongs to."""
    return open_sync_db(state_dir / "lane.db", store_id, lane_id,
                        extra={seen_tokens.COMPONENT: seen_tokens.MIGRATIONS, visits.COMPONENT: visits.MIGRATIONS,
                               intents.COMPONENT: intents.MIGRATIONS,
                               pickup_claims.COMPONENT: pickup_claims.MIGRATIONS,
                               attendant_records.COMPONENT: attendant_records.MIGRATIONS,
                               bagging_records.COMPONENT: bagging_records.MIGRATIONS})
