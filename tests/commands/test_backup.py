"""`omo-edge backup DEST`: a checked, consistent copy of lane.db and the catalog, taken while a lane keeps selling."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.cli import main
from agent.commands.backup import BackupError, backup_state
from agent.lane_db import open_sync_db
from agent.session.records.sales import record_sale
from simulators.cloud.catalog_data import SnapshotSpec, write_snapshot
from simulators.doubles.ports import free_port
from simulators.fixtures.shop import until
from simulators.lanes.writer import sale
from simulators.trials.kill9 import lane_command

pytestmark = pytest.mark.timeout(90)


def seed(state_dir: Path, sales: int) -> None:
    """A lane.db that already holds `sales` sales (about 1 KB each, with their outbox rows)."""
    db = open_sync_db(state_dir / "lane.db", "store-001", "lane-01")
    try:
        db.write_blocking(lambda conn: [record_sale(conn, sale(n)) for n in range(sales)])
    finally:
        db.close()


def query(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


class LaneProcess:
    """simulators/lanes/writer.py in its own process: a sale every few scans, each line printed once committed."""

    def __init__(self, state_dir: Path) -> None:
        # Its broker port has no broker: the lane records offline, as a lane with its uplink down does.
        self.process = subprocess.Popen(lane_command(state_dir, free_port(), "stream"), stdout=subprocess.PIPE,
                                        text=True)
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "started"
        self.committed: list[tuple[float, str]] = []     # (when this test read it, event_id)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "sale":
                self.committed.append((time.monotonic(), parts[1]))

    def committed_before(self, instant: float) -> set[str]:
        return {event_id for at, event_id in list(self.committed) if at < instant}

    def committed_between(self, start: float, end: float) -> int:
        return sum(1 for at, _ in list(self.committed) if start <= at < end)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self._reader.join(timeout=5)
        assert self.process.stdout is not None
        self.process.stdout.close()


def test_a_backup_taken_while_the_lane_writes_is_whole_and_holds_every_sale_committed_before_it(
        tmp_path: Path) -> None:
    state = tmp_path / "state"
    seed(state, 4000)
    lane = LaneProcess(state)
    try:
        until(lambda: len(lane.committed) >= 20, "the lane to sell")
        steps: list[int] = []
        started = time.monotonic()
        # Small steps with pauses: the copy spans many of the lane's commits.
        copies = backup_state(state, tmp_path / "backup", pages=16, pause_s=0.01,
                              progress=lambda done, total: steps.append(done))
        ended = time.monotonic()
        before = lane.committed_before(started)
        during = lane.committed_between(started, ended)
    finally:
        lane.stop()
    copy = copies[0].target
    assert copy == tmp_path / "backup" / "lane.db" and len(steps) > 20
    assert during > 0, "the lane committed nothing while the copy ran: its writer was held up"
    assert query(copy, "PRAGMA integrity_check") == [("ok",)]
    in_copy = {row[0] for row in query(copy, "SELECT event_id FROM sales")}
    assert before <= in_copy and len(in_copy) >= 4000 + len(before)
    # One instant: every sale in the copy has its outbox row, and seq runs 1..last with no gap.
    (last_seq,), = query(copy, "SELECT last_seq FROM outbox_lane")
    assert query(copy, "SELECT count(*), min(seq), max(seq) FROM outbox") == [(last_seq, 1, last_seq)]
    assert query(copy, "SELECT count(*) FROM sales WHERE event_id NOT IN (SELECT event_id FROM outbox)") == [(0,)]
    # A single file, only for its owner: no -wal beside it, nothing half-written left.
    assert query(copy, "PRAGMA journal_mode") == [("delete",)]
    assert sorted(p.name for p in copy.parent.iterdir()) == ["lane.db"]
    assert copy.stat().st_mode & 0o777 == 0o600


def test_the_command_copies_the_catalog_with_its_pointer_and_says_what_the_cloud_has_not_confirmed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    seed(state, 3)
    snapshot = write_snapshot(tmp_path / "c.jsonl", SnapshotSpec(products=50, version=4))
    assert main(["catalog", "import", str(snapshot), "--state-dir", str(state)]) == 0
    capsys.readouterr()
    assert main(["backup", str(tmp_path / "backup"), "--state-dir", str(state)]) == 0
    out = capsys.readouterr().out
    generation = (state / "catalog.current").read_text().strip()
    assert (tmp_path / "backup" / "catalog.current").read_text().strip() == generation
    assert query(tmp_path / "backup" / generation, "SELECT count(*) FROM products") == [(50,)]
    assert "integrity ok" in out and "last seq 3, 3 events not yet confirmed by the cloud" in out


def test_a_second_backup_replaces_the_first_and_drops_its_old_catalog(tmp_path: Path) -> None:
    state, dest = tmp_path / "state", tmp_path / "backup"
    seed(state, 2)
    for version in (1, 2):
        write_snapshot(tmp_path / "c.jsonl", SnapshotSpec(products=10, version=version))
        assert main(["catalog", "import", str(tmp_path / "c.jsonl"), "--state-dir", str(state)]) == 0
        backup_state(state, dest)
    generation = (state / "catalog.current").read_text().strip()
    assert sorted(p.name for p in dest.iterdir()) == sorted(["lane.db", "catalog.current", generation])


def test_no_lane_db_in_the_state_directory_is_a_failure_naming_where_it_looked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(f'[agent]\nstore_id = "s"\nlane_id = "l"\nstate_dir = "{tmp_path / "empty"}"\n')
    assert main(["backup", str(tmp_path / "backup"), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"no lane.db in {tmp_path / 'empty'}" in err and "state_dir" in err and "Fix:" in err
    assert not (tmp_path / "backup").exists()


@pytest.mark.parametrize("dest, expected", [
    ("state", "is the state directory itself"),
    ("missing/backup", "does not exist. Fix: create it, or mount the drive"),
])
def test_a_destination_that_cannot_be_right_is_refused(tmp_path: Path, dest: str, expected: str) -> None:
    seed(tmp_path / "state", 1)
    with pytest.raises(BackupError, match=expected):
        backup_state(tmp_path / "state", tmp_path / dest)


def test_a_copy_someone_has_open_in_wal_mode_is_not_overwritten(tmp_path: Path) -> None:
    seed(tmp_path / "state", 1)
    backup_state(tmp_path / "state", tmp_path / "backup")
    (tmp_path / "backup" / "lane.db-wal").write_bytes(b"")
    with pytest.raises(BackupError, match="lane.db-wal exists: a program has the copy"):
        backup_state(tmp_path / "state", tmp_path / "backup")


def test_a_damaged_lane_db_is_not_passed_off_as_a_backup(tmp_path: Path) -> None:
    state = tmp_path / "state"
    seed(state, 500)
    lane = state / "lane.db"
    with lane.open("r+b") as handle:     # scribble over the middle of a table page, past the header
        handle.seek(lane.stat().st_size // 2 + 100)
        handle.write(os.urandom(3000))
    with pytest.raises(BackupError, match="(integrity check|is damaged)"):
        backup_state(state, tmp_path / "backup")
    assert list((tmp_path / "backup").iterdir()) == []


Mount = Callable[[str, str], Path]


@pytest.fixture
def mount_tmpfs(tmp_path: Path) -> Iterator[Mount]:
    """Mount a small tmpfs (we are root in CI); skipped with the reason where mounting is not allowed."""
    mounted: list[Path] = []

    def mount(name: str, options: str) -> Path:
        point = tmp_path / name
        point.mkdir()
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True,
                                text=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip()}); needs root")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)


def test_a_read_only_destination_is_refused_naming_the_fix(tmp_path: Path, mount_tmpfs: Mount) -> None:
    seed(tmp_path / "state", 1)
    read_only = mount_tmpfs("ro", "ro,size=8m")
    with pytest.raises(BackupError, match="is not writable by this user .* Fix: give a directory this user may"):
        backup_state(tmp_path / "state", read_only)


def test_a_destination_without_room_for_the_copy_is_refused_before_writing(tmp_path: Path,
                                                                          mount_tmpfs: Mount) -> None:
    seed(tmp_path / "state", 3000)                       # about 3.4 MB
    small = mount_tmpfs("small", "size=2m")
    with pytest.raises(BackupError, match=r"not enough space in .*: the copy needs 4\.\d MB, \d\.\d MB is free"):
        backup_state(tmp_path / "state", small / "backup")
    assert list((small / "backup").iterdir()) == []


def test_a_disk_that_fills_during_the_copy_leaves_the_previous_copy_as_it_was(tmp_path: Path,
                                                                             mount_tmpfs: Mount) -> None:
    state = tmp_path / "state"
    seed(state, 1500)                                    # about 1.7 MB
    disk = mount_tmpfs("disk", "size=8m")
    backup_state(state, disk / "backup")
    previous = hashlib.sha256((disk / "backup" / "lane.db").read_bytes()).hexdigest()

    def fill_the_disk(done: int, total: int) -> None:   # another program takes the space once the copy is under way
        filler = disk / "filler"
        if not filler.exists():
            st = os.statvfs(disk)
            filler.write_bytes(b"\0" * (st.f_bavail * st.f_frsize))

    with pytest.raises(BackupError, match="the disk holding .* is full .* nothing there was replaced"):
        backup_state(state, disk / "backup", pages=16, progress=fill_the_disk)
    assert sorted(p.name for p in (disk / "backup").iterdir()) == ["lane.db"]
    assert hashlib.sha256((disk / "backup" / "lane.db").read_bytes()).hexdigest() == previous
