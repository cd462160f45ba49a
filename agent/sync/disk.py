"""Disk guard for the state directory: shed scans when space runs low, stop new sales before the disk is full.

Why before: SQLite needs free pages to roll back and to checkpoint its WAL, so a lane that waits for
SQLITE_FULL may be unable to record the payment of a sale already in progress. The guard refuses new sales
with a clear message while there is still room to finish and publish the ones recorded, and lets them in
again by itself once space returns. SQLITE_FULL itself still rolls back the whole transaction (store.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.errors import DiskFullError
from agent.health import ComponentHealth
from agent.store import Database
from agent.sync import outbox

logger = logging.getLogger(__name__)

MB = 1024 * 1024


@dataclass
class DiskGuard:
    """Free-space thresholds for one directory; `admit_sale` is cheap enough (one statvfs) to call per sale."""

    path: Path
    stop_sales_free_mb: int = 64
    shed_free_mb: int = 256

    def free_bytes(self) -> int:
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def admit_sale(self) -> None:
        """Raise DiskFullError, naming the cause and the fix, when a new sale must not start."""
        free = self.free_bytes()
        if free < self.stop_sales_free_mb * MB:
            raise DiskFullError(
                f"lane closed for new sales: only {free // MB} MB free on {self.path} (the limit is "
                f"{self.stop_sales_free_mb} MB); free space there and the lane reopens by itself")

    def should_shed(self) -> bool:
        return self.free_bytes() < self.shed_free_mb * MB


def disk_probe(guard: DiskGuard, db: Database) -> Callable[[], dict[str, Any]]:
    """Free space and lane.db's file sizes for health: given to the supervisor with `run_disk_guard`."""
    return lambda: {"disk_free_mb": guard.free_bytes() // MB, **file_sizes(db.path)}


async def run_disk_guard(guard: DiskGuard, db: Database, health: ComponentHealth, *,
                         interval_s: float = 5.0) -> None:
    """Supervised component: report free space, shed scan rows when low, say when sales are refused."""
    while True:
        check_once(guard, db, health)
        if guard.should_shed():
            dropped = await db.write(outbox.shed)
            if dropped:
                health.count("scans_shed", dropped)
                logger.warning("disk nearly full on %s: shed %d unconfirmed scan events (sales are kept)",
                               guard.path, dropped)
        await asyncio.sleep(interval_s)


def check_once(guard: DiskGuard, db: Database, health: ComponentHealth) -> None:
    """Set health from the current free space: down while sales are refused, ok when space is back."""
    try:
        guard.admit_sale()
    except DiskFullError as exc:
        health.down(str(exc))
        return
    if guard.should_shed():
        health.degraded(f"less than {guard.shed_free_mb} MB free on {guard.path}; scan events may be shed")
    else:
        health.ok()


def file_sizes(path: Path) -> dict[str, int]:
    """Database and WAL sizes in bytes, for health."""
    sizes = {}
    for key, suffix in (("db_bytes", ""), ("wal_bytes", "-wal")):
        try:
            sizes[key] = os.stat(f"{path}{suffix}").st_size
        except FileNotFoundError:
            sizes[key] = 0
    return sizes
