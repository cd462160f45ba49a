"""Disk full: a real small tmpfs. No half-recorded sale, a clear message, and the lane reopens by itself."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.errors import DiskFullError
from agent.health import ComponentHealth, State
from agent.lane_db import open_sync_db
from agent.session.records.sales import record_sale
from agent.store import Database
from agent.sync.disk import DiskGuard, check_once
from simulators.lanes.writer import sale


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs (we are root in CI); skipped with the reason where mounting is not allowed."""
    mount = tmp_path / "small"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True,
                            text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({result.stderr.strip()}); needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path, leave_bytes: int) -> Path:
    """Fill the file system up to `leave_bytes` free, with one file that can be deleted to make room."""
    filler = directory / "filler"
    st = os.statvfs(directory)
    free = st.f_bavail * st.f_frsize
    with filler.open("wb") as handle:
        handle.write(b"\0" * max(0, free - leave_bytes))
    return filler


def big_sale(n: int) -> dict[str, object]:
    return {**sale(n), "lines": [{"gtin": "04901234567894", "name": "x" * 2000, "qty": 1, "total": 198}] * 8}


def consistent(db: Database) -> tuple[int, int]:
    reader = db.reader()
    sales = reader.execute("SELECT count(*) FROM sales").fetchone()[0]
    rows = reader.execute("SELECT count(*) FROM outbox WHERE schema = 'omo.sale/1'").fetchone()[0]
    orphans = reader.execute("SELECT count(*) FROM sales WHERE event_id NOT IN (SELECT event_id FROM outbox)")
    assert orphans.fetchone()[0] == 0
    return sales, rows


def test_sqlite_full_rolls_back_the_whole_sale_and_recording_resumes_once_space_returns(small_disk: Path) -> None:
    db = open_sync_db(small_disk / "lane.db", "store-001", "lane-01")
    try:
        filler = fill(small_disk, 64 * 1024)
        with pytest.raises(DiskFullError, match="disk holding the state directory is full"):
            for n in range(200):
                db.write_blocking(record_sale, big_sale(n))
        sales, rows = consistent(db)
        assert sales == rows
        assert db.reader().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        filler.unlink()
        db.write_blocking(record_sale, big_sale(999))
        assert consistent(db) == (sales + 1, rows + 1)
    finally:
        db.close()


def test_the_guard_stops_new_sales_before_the_disk_is_full_and_reopens_by_itself(small_disk: Path) -> None:
    db = open_sync_db(small_disk / "lane.db", "store-001", "lane-01")
    guard = DiskGuard(small_disk, stop_sales_free_mb=2, shed_free_mb=3)
    health = ComponentHealth("disk")
    try:
        db.write_blocking(record_sale, sale(1), guard)
        filler = fill(small_disk, 1024 * 1024)
        with pytest.raises(DiskFullError, match="lane closed for new sales.*free space there and the lane reopens"):
            db.write_blocking(record_sale, sale(2), guard)
        check_once(guard, db, health)
        assert health.state == State.DOWN and "lane closed for new sales" in health.reason
        assert consistent(db) == (1, 1)
        filler.unlink()
        check_once(guard, db, health)
        assert health.state == State.OK
        db.write_blocking(record_sale, sale(3), guard)
        assert consistent(db) == (2, 2)
    finally:
        db.close()
