"""pytest fixtures for cloud sync: a real mosquitto, the reference ingest as a process, a test PKI, lanes.

Skipped with a reason when mosquitto is not installed (CI installs it through .ci/bootstrap).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulators import ingest as ingest_module
from simulators.broker import MosquittoBroker, mosquitto_path
from simulators.certs import LanePki, make_pki

LANES = (("store-001", "lane-01"), ("store-001", "lane-02"), ("store-002", "lane-01"))


class IngestProcess:
    """The reference ingest running as its own process against one broker; `.report()` checks its database."""

    def __init__(self, broker: MosquittoBroker, db: Path, client_id: str = "ingest-1") -> None:
        self.broker, self.db, self.client_id = broker, db, client_id
        self.process: subprocess.Popen[str] | None = None

    def start(self, timeout_s: float = 15.0) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "simulators.ingest", "--port", str(self.broker.port), "--db", str(self.db),
             "--client-id", self.client_id], stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout_s
        line = self.process.stdout.readline()
        if line.strip() != "ready" or time.monotonic() > deadline:
            raise RuntimeError(f"ingest did not start: {line!r}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def report(self, store: str = "store-001", lane: str = "lane-01") -> dict[str, Any]:
        """The lane's one stream; `report_streams` when a lane.db was recreated (a second stream)."""
        streams = self.report_streams(store, lane)
        assert len(streams) <= 1, f"lane {store}/{lane} has {len(streams)} streams; use report_streams()"
        return next(iter(streams.values()), {"events": 0, "max_seq": 0, "gaps": []})

    def report_streams(self, store: str = "store-001", lane: str = "lane-01") -> dict[str, dict[str, Any]]:
        if not self.db.exists():
            return {}
        return {key[2]: report for key, report in ingest_module.check(self.db).items() if key[:2] == (store, lane)}

    def duplicates(self) -> int:
        """Events received again after they were stored (dropped by event_id)."""
        rows = self._query("SELECT value FROM stats WHERE key = 'duplicates'")
        return int(rows[0][0]) if rows else 0

    def event_ids(self, schema: str = "omo.sale/1") -> list[str]:
        return [str(row[0]) for row in self._query("SELECT event_id FROM events WHERE schema = ?", (schema,))]

    def _query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Read the ingest's database beside the running process (read-only: it never takes the write lock)."""
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()


@contextlib.contextmanager
def cloud_on_loopback(work: Path, nice: int = 0) -> Iterator[tuple[MosquittoBroker, IngestProcess]]:
    """A broker and the reference ingest for the bench scripts, stopped on exit (tests use the fixtures below).

    `nice` lowers both processes' priority: on a lane they run elsewhere, here they share its cores, and
    the lane's own threads (loop and SQLite writer) should be scheduled first, as on a real box.
    """
    broker = MosquittoBroker(work / "broker")
    broker.start()
    ingest = IngestProcess(broker, work / "ingest.db")
    try:
        ingest.start()
        for process in (broker.process, ingest.process):
            if process is not None and nice:
                os.setpriority(os.PRIO_PROCESS, process.pid, nice)
        yield broker, ingest
    finally:
        ingest.stop()
        broker.kill()


def _require_mosquitto() -> None:
    if mosquitto_path() is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto, or run ./.ci/bootstrap test)")


@pytest.fixture(scope="session")
def sync_pki(tmp_path_factory: pytest.TempPathFactory) -> LanePki:
    """CA, broker and per-lane client certificates, generated for this test run only."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def mqtt_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A plain mosquitto on a free 127.0.0.1 port, persistence off; `.stop()`, `.start()`, `.kill()`."""
    _require_mosquitto()
    broker = MosquittoBroker(tmp_path / "broker", lanes=LANES)
    broker.start()
    yield broker
    broker.kill()


@pytest.fixture
def tls_broker(tmp_path: Path, sync_pki: LanePki) -> Iterator[MosquittoBroker]:
    """mosquitto with a TLS listener (`.tls_port`) requiring client certificates and a per-lane ACL."""
    _require_mosquitto()
    broker = MosquittoBroker(tmp_path / "tls-broker", pki=sync_pki, lanes=LANES)
    broker.start()
    yield broker
    broker.kill()


@pytest.fixture
def ingest(mqtt_broker: MosquittoBroker, tmp_path: Path) -> Iterator[IngestProcess]:
    """The reference ingest process subscribed (shared subscription) to the plain broker."""
    process = IngestProcess(mqtt_broker, tmp_path / "ingest.db")
    process.start()
    yield process
    process.stop()
