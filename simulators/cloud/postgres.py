"""A throwaway PostgreSQL server from Debian's package, in a temporary directory, for tests and benches.

    from simulators.cloud.postgres import temporary_postgres

    with temporary_postgres() as server:
        dsn = server.create_database("fleet")   # or server.dsn, the `postgres` database
        ...                                     # psycopg.connect(dsn), or the ingest's --db DSN

    with temporary_database("fleet") as dsn:    # the same, when one database is all it takes
        ...

The server listens on a unix socket in its own directory and on a free 127.0.0.1 port (`.tcp_dsn`), trusts
local connections (no password), and is stopped and deleted on exit, or by a guard process when this
process dies without an exit (SIGKILL). PostgreSQL refuses to run as root, so
when this process is root the directory is handed to the `postgres` user and the server runs as that user
(no intermediate `runuser`: the child sets its own uid, so a signal reaches the server itself).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from simulators.doubles.ports import free_port

SERVER_USER = "postgres"   # Debian's package creates it; the server runs as it when we are root

# The guard: a small process holding the read end of a pipe from ours. When we end, however we end (a test
# run killed with SIGKILL too), the pipe closes, and it stops the server and deletes its directory; postgres
# itself would run on, orphaned, holding shared memory and a port.
GUARD = """
import os, shutil, signal, sys, time
pid, directory = int(sys.argv[1]), sys.argv[2]
sys.stdin.buffer.read()
try:
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
except ProcessLookupError:
    pass
shutil.rmtree(directory, ignore_errors=True)
"""


def postgres_bin_dir() -> Path | None:
    """The directory of initdb and postgres: Debian keeps them per major version, outside PATH; or None."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                      key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.parent.name)], reverse=True)
    if versions:
        return versions[0].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class TemporaryPostgres:
    """One postgres process on a fresh cluster; `.start()`, `.stop()`, `.dsn`, `.create_database(name)`."""

    def __init__(self, *, fsync: bool = True, settings: dict[str, str] | None = None) -> None:
        """`fsync=False` trades crash safety of the whole server for speed; the ingest's own commits are
        synchronous either way (it acks only what is committed)."""
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise FileNotFoundError("PostgreSQL is not installed: apt-get install postgresql")
        self.bin_dir = bin_dir
        self.settings = {"listen_addresses": "127.0.0.1", "fsync": "on" if fsync else "off",
                         "max_connections": "50", "shared_buffers": "64MB", **(settings or {})}
        self.directory: Path | None = None
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.guard: subprocess.Popen[bytes] | None = None

    @property
    def dsn(self) -> str:
        return self.dsn_for("postgres")

    @property
    def tcp_dsn(self) -> str:
        return f"postgresql://{SERVER_USER}@127.0.0.1:{self.port}/postgres"

    def dsn_for(self, database: str) -> str:
        """A libpq URL over the unix socket (no TCP stack per query: what the benches use)."""
        return f"postgresql://{SERVER_USER}@/{database}?host={self._socket_dir()}&port={self.port}"

    def start(self, timeout_s: float = 30.0) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="omo-pg-"))
        try:
            self._launch()
            self._wait_ready(timeout_s)
        except BaseException:
            self.stop()   # nothing left behind: the server if it started, the directory
            raise

    def _launch(self) -> None:
        assert self.directory is not None
        self._socket_dir().mkdir()
        as_root = os.geteuid() == 0
        if as_root:
            user = pwd.getpwnam(SERVER_USER)
            for path in (self.directory, self._socket_dir()):
                os.chown(path, user.pw_uid, user.pw_gid)
        self._run([str(self.bin_dir / "initdb"), "-D", str(self._data_dir()), "-U", SERVER_USER, "-A", "trust",
                   "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"], as_root)
        self.port = free_port()
        options = [arg for key, value in self.settings.items() for arg in ("-c", f"{key}={value}")]
        log = (self.directory / "postgres.log").open("ab")
        self.process = subprocess.Popen(
            [str(self.bin_dir / "postgres"), "-D", str(self._data_dir()), "-p", str(self.port),
             "-k", str(self._socket_dir()), *options],
            stdout=log, stderr=log, cwd=self.directory, start_new_session=True, **self._as_user(as_root))
        log.close()
        self.guard = subprocess.Popen([sys.executable, "-c", GUARD, str(self.process.pid), str(self.directory)],
                                      stdin=subprocess.PIPE, start_new_session=True)

    def stop(self) -> None:
        """Fast shutdown (SIGINT: running transactions roll back), then the directory goes."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.guard is not None:   # the server has stopped: the guard finds it gone and deletes the directory
            assert self.guard.stdin is not None
            self.guard.stdin.close()
            self.guard.wait(timeout=20)
            self.guard = None
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def create_database(self, name: str) -> str:
        """A new empty database (one per test keeps tests apart on one server); returns its DSN."""
        import psycopg  # only here: starting a server needs no client library
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn_for(name)

    def _data_dir(self) -> Path:
        assert self.directory is not None, "start() first"
        return self.directory / "data"

    def _socket_dir(self) -> Path:
        assert self.directory is not None, "start() first"
        return self.directory / "socket"

    def _as_user(self, as_root: bool) -> dict[str, Any]:
        return {"user": SERVER_USER, "group": SERVER_USER, "extra_groups": []} if as_root else {}

    def _run(self, argv: list[str], as_root: bool) -> None:
        done = subprocess.run(argv, capture_output=True, text=True, cwd=self.directory, check=False,
                              **self._as_user(as_root))
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({done.returncode}): {done.stdout[-800:]}{done.stderr[-800:]}")

    def _wait_ready(self, timeout_s: float) -> None:
        """postmaster.pid's last line turns `ready` once connections are accepted (PostgreSQL 10 and later)."""
        assert self.process is not None and self.directory is not None
        pid_file, deadline = self._data_dir() / "postmaster.pid", time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(FileNotFoundError):
                lines = pid_file.read_text().splitlines()
                if len(lines) >= 8 and lines[7].strip() == "ready":
                    return
            if self.process.poll() is not None:
                log = (self.directory / "postgres.log").read_text()[-1500:]
                raise RuntimeError(f"postgres exited: {log}")
            time.sleep(0.02)
        raise TimeoutError(f"postgres was not ready within {timeout_s} s")


@contextlib.contextmanager
def temporary_postgres(**options: Any) -> Iterator[TemporaryPostgres]:
    """A started server, stopped and deleted on exit; options as for `TemporaryPostgres`."""
    server = TemporaryPostgres(**options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def temporary_database(name: str = "omo", **options: Any) -> Iterator[str]:
    """The shortest way to a database: a new server with one empty database; yields its DSN."""
    with temporary_postgres(**options) as server:
        yield server.create_database(name)
