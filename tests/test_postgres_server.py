"""The throwaway PostgreSQL server (simulators/cloud/postgres.py): usable, and gone after its owner dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from simulators.cloud.postgres import TemporaryPostgres
from simulators.sync_checks import wait_until

pytestmark = [pytest.mark.timeout(90)]

OWNER_KILLED = """
import os, signal
from simulators.cloud.postgres import TemporaryPostgres
server = TemporaryPostgres()
server.start()
print(server.process.pid, server.directory, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_server_takes_connections_on_its_socket_and_on_loopback(postgres_server: TemporaryPostgres) -> None:
    dsn = postgres_server.create_database("reachable")
    for target in (dsn, postgres_server.tcp_dsn):
        with psycopg.connect(target) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
    assert "127.0.0.1" in postgres_server.tcp_dsn


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's exit may wait for a container's init to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_a_server_whose_owner_is_killed_stops_and_is_deleted(postgres_server: TemporaryPostgres) -> None:
    owner = subprocess.run([sys.executable, "-c", OWNER_KILLED], capture_output=True, text=True, timeout=60,
                           cwd=Path(__file__).resolve().parents[1], check=False)
    assert owner.returncode == -9, owner.stderr
    pid, directory = int(owner.stdout.split()[0]), Path(owner.stdout.split()[1])
    try:
        await wait_until(lambda: not running(pid) and not directory.exists(), 30)
    finally:
        if running(pid):   # the guard failed: do not leave the server behind the test
            os.kill(pid, signal.SIGKILL)
