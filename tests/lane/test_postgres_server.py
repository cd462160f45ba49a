"""The throwaway PostgreSQL server (simulators/cloud/postgres.py): usable, and gone after its owner dies."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from simulators.cloud.postgres import TemporaryPostgres

pytestmark = [pytest.mark.timeout(90)]

OWNER_KILLED = """
import os, signal
from simulators.cloud.postgres import TemporaryPostgres
server = TemporaryPostgres()
server.start()
print(server.process.pid, server.guard.pid, server.directory, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_server_takes_connections_on_its_socket_and_on_loopback(postgres_server: TemporaryPostgres) -> None:
    dsn = postgres_server.create_database("reachable")
    for target in (dsn, postgres_server.tcp_dsn):
        with psycopg.connect(target) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
    assert "127.0.0.1" in postgres_server.tcp_dsn


def exited(pid: int, timeout_s: float) -> bool:
    """Wait for a process that is not our child to exit (a pidfd turns readable then; no polling)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout_s)[0])
    finally:
        os.close(fd)


def test_a_server_whose_owner_is_killed_stops_and_is_deleted(postgres_server: TemporaryPostgres) -> None:
    owner = subprocess.run([sys.executable, "-c", OWNER_KILLED], capture_output=True, text=True, timeout=60,
                           cwd=Path(__file__).resolve().parents[2], check=False)
    assert owner.returncode == -signal.SIGKILL, owner.stderr
    server, guard, directory = owner.stdout.split()
    try:
        assert exited(int(guard), 30), "the guard did not end"
        assert exited(int(server), 1), "the server outlived its guard"
        assert not Path(directory).exists()
    finally:
        if not exited(int(server), 0):   # do not leave a server behind a failed test
            os.kill(int(server), signal.SIGKILL)
