"""The power-loss layer keeps what was synced and forgets what was not, for file contents, directory entries and a
real SQLite database (WAL, synchronous=FULL against NORMAL), on a real FUSE mount."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from simulators.powerloss.mount import PowerLossMount

pytestmark = pytest.mark.timeout(120)


def write(path: Path, data: bytes, *, sync: str = "", flags: int = os.O_CREAT | os.O_WRONLY) -> None:
    fd = os.open(path, flags, 0o644)
    try:
        os.write(fd, data)
        if sync == "fsync":
            os.fsync(fd)
        elif sync == "fdatasync":
            os.fdatasync(fd)
    finally:
        os.close(fd)


def sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@pytest.mark.parametrize("sync", ["fsync", "fdatasync"])
def test_a_synced_write_survives_a_cut_and_the_unsynced_write_after_it_does_not(
        power_loss: PowerLossMount, sync: str) -> None:
    mnt = power_loss.mountpoint
    write(mnt / "f", b"durable", sync=sync)
    sync_dir(mnt)
    write(mnt / "f", b"-lost", flags=os.O_WRONLY | os.O_APPEND)
    write(mnt / "f", b"DUR", flags=os.O_WRONLY)                   # an overwrite in place, not synced
    assert (mnt / "f").read_bytes() == b"DURable-lost"            # before the cut, everyone sees every write
    power_loss.cut()
    assert (power_loss.backing / "f").read_bytes() == b"durable"
    assert power_loss.last_cut.startswith("files=1 writes=2")


def test_a_truncate_not_synced_is_undone_and_a_synced_one_stays(power_loss: PowerLossMount) -> None:
    mnt = power_loss.mountpoint
    write(mnt / "short", b"0123456789", sync="fsync")
    write(mnt / "long", b"0123456789", sync="fsync")
    sync_dir(mnt)
    os.truncate(mnt / "long", 3)
    fd = os.open(mnt / "short", os.O_WRONLY)
    os.ftruncate(fd, 4)
    os.fsync(fd)
    os.close(fd)
    power_loss.cut()
    assert (power_loss.backing / "long").read_bytes() == b"0123456789"
    assert (power_loss.backing / "short").read_bytes() == b"0123"


def test_a_new_file_needs_its_directory_synced_even_when_the_file_itself_was(power_loss: PowerLossMount) -> None:
    mnt = power_loss.mountpoint
    write(mnt / "named", b"a", sync="fsync")
    sync_dir(mnt)
    write(mnt / "nameless", b"b", sync="fsync")                 # its data is durable, its name is not
    (mnt / "sub").mkdir()
    power_loss.cut()
    assert sorted(p.name for p in power_loss.backing.iterdir()) == ["named"]


def test_a_rename_or_unlink_not_covered_by_a_directory_fsync_is_undone(power_loss: PowerLossMount) -> None:
    mnt = power_loss.mountpoint
    for name in ("old", "target", "doomed"):
        write(mnt / name, name.encode(), sync="fsync")
    sync_dir(mnt)
    os.replace(mnt / "old", mnt / "target")
    (mnt / "doomed").unlink()
    assert sorted(p.name for p in mnt.iterdir()) == ["target"]
    power_loss.cut()
    assert {p.name: p.read_bytes() for p in power_loss.backing.iterdir()} == {
        "old": b"old", "target": b"target", "doomed": b"doomed"}


def test_a_rename_and_unlink_covered_by_a_directory_fsync_stay(power_loss: PowerLossMount) -> None:
    mnt = power_loss.mountpoint
    for name in ("old", "target", "doomed"):
        write(mnt / name, name.encode(), sync="fsync")
    sync_dir(mnt)
    write(mnt / "new.tmp", b"new", sync="fsync")
    os.replace(mnt / "new.tmp", mnt / "target")                 # the atomic-replace idiom, done right
    (mnt / "doomed").unlink()
    sync_dir(mnt)
    write(mnt / "target", b"NEW", flags=os.O_WRONLY)             # not synced: the renamed file keeps "new"
    power_loss.cut()
    assert {p.name: p.read_bytes() for p in power_loss.backing.iterdir()} == {"old": b"old", "target": b"new"}


def test_a_clean_unmount_keeps_everything_and_a_remount_sees_it(power_loss: PowerLossMount) -> None:
    write(power_loss.mountpoint / "f", b"kept")
    power_loss.unmount()
    assert not os.path.ismount(power_loss.mountpoint)
    power_loss.mount()
    assert (power_loss.mountpoint / "f").read_bytes() == b"kept"


# A writer process: opens the database on the mount, commits ROWS single-row transactions, says so, and waits
# to be killed (a power cut stops the process too; its connection is never closed cleanly).
WRITER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
assert conn.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal"
conn.execute("PRAGMA synchronous = " + sys.argv[2])
conn.execute("CREATE TABLE IF NOT EXISTS sales (n INTEGER PRIMARY KEY, body TEXT)")
for n in range(int(sys.argv[3])):
    conn.execute("INSERT INTO sales (body) VALUES (?)", ("x" * 200,))
print("committed", flush=True)
sys.stdin.read()
"""
ROWS = 50


def commit_then_cut(layer: PowerLossMount, synchronous: str) -> tuple[int, str]:
    """Commit ROWS rows with `synchronous`, read them back through the mount from another connection (the -shm
    mapped by two processes), kill -9 the writer, cut; returns the rows and integrity_check of what survived."""
    db = layer.mountpoint / "lane.db"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db), synchronous, str(ROWS)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "committed"
        reader = sqlite3.connect(db)
        assert reader.execute("SELECT count(*) FROM sales").fetchone()[0] == ROWS
        reader.close()
    finally:
        writer.kill()
        writer.communicate(timeout=10)          # reaps it and closes its pipes
    layer.cut()
    conn = sqlite3.connect(layer.backing / "lane.db")
    try:
        if not conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sales'").fetchone()[0]:
            return 0, str(conn.execute("PRAGMA integrity_check").fetchone()[0])
        return (conn.execute("SELECT count(*) FROM sales").fetchone()[0],
                str(conn.execute("PRAGMA integrity_check").fetchone()[0]))
    finally:
        conn.close()


def test_every_transaction_committed_with_synchronous_full_survives_a_cut(power_loss: PowerLossMount) -> None:
    assert commit_then_cut(power_loss, "FULL") == (ROWS, "ok")


def test_transactions_committed_with_synchronous_normal_are_lost_in_a_cut_but_the_database_is_sound(
        power_loss: PowerLossMount) -> None:
    rows, integrity = commit_then_cut(power_loss, "NORMAL")
    assert integrity == "ok"
    assert rows < ROWS, "NORMAL does not fsync the WAL at commit: the layer should have lost the last commits"


def test_the_cli_cuts_a_layer_mounted_from_another_shell(power_loss: PowerLossMount) -> None:
    write(power_loss.mountpoint / "f", b"unsynced")
    result = subprocess.run([sys.executable, "-m", "simulators.powerloss", "cut", str(power_loss.mountpoint)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert power_loss.process is not None and power_loss.process.wait(10) == 0
    assert not (power_loss.backing / "f").exists()
