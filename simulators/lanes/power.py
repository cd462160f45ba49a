"""The deployed lane with its state directory on the power-loss layer: the daemon, a pty scanner, the simulated
payment, and the broker and ingest of the caller.

One `PowerLane` lives for a whole campaign (simulators/trials/power.py): the pty and the config stay, the
daemon and the mount come and go. `sell_until` streams complete sales (scan on the pty, pay on the API) and
returns the sale IDs the API answered `paid`; `kill_and_cut` is the power cut; `survivors` reads a copy of
what the disk kept, without letting SQLite touch the disk itself before the daemon does.
"""

from __future__ import annotations

import http.client
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.lane_db import TEST_SYNCHRONOUS_ENV
from simulators.cloud.store_catalog import TEA, write_store_catalog
from simulators.devices.serial_pty import VirtualSerialScanner
from simulators.doubles.ports import free_port
from simulators.doubles.screen_watch import ScreenWatch
from simulators.fixtures.daemon import AgentProcess, NotifySocket, render_toml
from simulators.fixtures.shop import api
from simulators.powerloss.mount import PowerLossMount

FINAL = ("succeeded", "failed", "cancelled")
DOWN = (ConnectionError, TimeoutError, urllib.error.URLError, http.client.HTTPException)


@dataclass(frozen=True)
class Survivors:
    """What a copy of the disk's lane.db (and its WAL) says after a cut."""

    integrity: str
    sales: frozenset[str]
    moved_aside: int                  # lane.db files the daemon moved aside as corrupt, so far
    seq_gaps: tuple[int, ...] = ()    # seqs missing from the outbox up to its last_seq
    open_intents: int = 0             # payment intents not final: the cut came mid-payment


class PowerLane:
    def __init__(self, work: Path, broker_port: int, synchronous: str = "FULL") -> None:
        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        self.disk, self.state = work / "disk", work / "state"
        self.layer = PowerLossMount(self.disk, self.state)
        self.scanner = VirtualSerialScanner()
        self.notify = NotifySocket(work / "notify.sock")
        self.config = work / "agent.toml"
        self.env = {**os.environ, "NOTIFY_SOCKET": str(self.notify.path), "PYTHONUNBUFFERED": "1",
                    TEST_SYNCHRONOUS_ENV: synchronous}
        self.env.pop("WATCHDOG_USEC", None)
        self.agent: AgentProcess | None = None
        self.screen: ScreenWatch | None = None
        self.listen = f"127.0.0.1:{free_port()}"
        self.config.write_text(render_toml({
            "agent": {"store_id": "store-001", "lane_id": "lane-01", "state_dir": str(self.state),
                      "allow_simulators": True},
            "api": {"listen": self.listen},
            "payment": {"adapter": "simulated"},
            "mqtt": {"host": "127.0.0.1", "port": broker_port, "confirm_timeout_s": 2},
            "session": {"registration_number": "T9234567890123", "issuer_name": "OMO Mart"},
            "devices": [{"name": "handheld", "driver": "serial", "port": self.scanner.path, "bounce_ms": 0}]}))
        snapshot = write_store_catalog(work / "store.jsonl")
        imported = subprocess.run([sys.executable, "-m", "agent", "catalog", "import", str(snapshot), "--state-dir",
                                   str(self.disk)], capture_output=True, text=True, timeout=120)
        if imported.returncode != 0:
            raise RuntimeError(f"catalog import failed: {imported.stderr}")

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        return api(self.config, method, path, body)

    def alive(self) -> bool:
        return self.agent is not None and self.agent.proc.poll() is None

    def wait(self, check: Callable[[], Any], what: str, timeout_s: float = 30) -> Any:
        """Poll `check` until it is truthy; None at once if the daemon died meanwhile (the cut came first)."""
        deadline = time.monotonic() + timeout_s
        while self.alive():
            try:
                result = check()
            except DOWN:
                result = None
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}; log:\n{self.log_tail()}")
            time.sleep(0.01)        # polling another process's API: nothing to block on
        return None

    def spawn(self) -> AgentProcess:
        """The power is back: mount what the disk kept and start the daemon on it (without waiting)."""
        self.layer.mount()
        self.agent = AgentProcess(self.config, self.notify, self.env)
        return self.agent

    def start(self) -> None:
        """`spawn`, then wait for READY, the scanner, the screen's connection, and for any payment left open to
        be settled (the lane takes no shopper before)."""
        self.spawn()
        try:
            self.notify.wait_for("READY=1", timeout_s=60)
        except TimeoutError:
            raise RuntimeError(f"the daemon never became ready; log:\n{self.log_tail()}") from None
        self.wait(lambda: self.api("GET", "/v1/health")[1]["components"].get("device:handheld", {}).get("state")
                  == "ok", "the scanner")
        self.screen = ScreenWatch(f"ws://{self.listen}/v1/events")
        self.screen.start()
        self.wait(lambda: self.api("GET", "/v1/session")[1]["state"] != "paying", "open payments to settle")

    def sell_until(self, deadline: float) -> list[str]:
        """Complete sales, one item each, until `deadline` or the daemon's death; the sale IDs reported paid."""
        paid: list[str] = []
        while self.alive() and time.monotonic() < deadline:
            try:
                sale = self.sell_one()
            except DOWN:
                break
            if sale:
                paid.append(sale)
        return paid

    def sell_one(self) -> str | None:
        before = self.api("GET", "/v1/session")[1]
        self.scanner.scan(TEA, aim="]E0")
        key = (before.get("session_id"), before["totals"]["total"] if before.get("totals") else None)
        view = self.wait(lambda: (v := self.api("GET", "/v1/session")[1]) and v["state"] == "scanning"
                         and (v.get("session_id"), v["totals"]["total"]) != key and v, "the scanned line")
        if not view:
            return None
        status, answer = self.api("POST", "/v1/session/pay", {"method": "simulated"})
        return str(answer["sale_id"]) if status == 200 and answer.get("state") == "paid" else None

    def kill_and_cut(self) -> tuple[str, set[str]]:
        """kill -9 the daemon (if a timer has not already) and cut the power; what the layer discarded, and the
        sales the screen showed paid."""
        assert self.agent is not None
        self.agent.proc.kill()
        self.agent.stop()
        shown = self.screen.join() if self.screen is not None else set()
        self.screen = None
        self.notify.messages.clear()          # a READY=1 of this run must not count for the next
        return self.layer.cut(), shown

    def survivors(self) -> Survivors:
        """Read lane.db as the disk holds it, through a copy: SQLite would otherwise recover the WAL on the disk
        (and rebuild the -shm) before the daemon does."""
        check = self.work / "check"
        shutil.rmtree(check, ignore_errors=True)
        check.mkdir()
        for name in ("lane.db", "lane.db-wal"):
            if (self.disk / name).exists():
                shutil.copyfile(self.disk / name, check / name)
        moved = len(list(self.disk.glob("lane.db.corrupt-*")))
        if not (check / "lane.db").exists():
            return Survivors("no lane.db", frozenset(), moved)
        conn = sqlite3.connect(check / "lane.db")
        try:
            integrity = str(conn.execute("PRAGMA integrity_check").fetchone()[0])
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            sales = {r[0] for r in conn.execute("SELECT sale_id FROM sales")} if "sales" in tables else set()
            gaps: tuple[int, ...] = ()
            if "outbox" in tables:
                last = conn.execute("SELECT last_seq FROM outbox_lane").fetchone()[0]
                held = {r[0] for r in conn.execute("SELECT seq FROM outbox")}
                gaps = tuple(sorted(set(range(1, last + 1)) - held))
            intents = conn.execute(f"SELECT count(*) FROM payment_intents WHERE state NOT IN {FINAL!r}").fetchone()[0] \
                if "payment_intents" in tables else 0
        except sqlite3.DatabaseError as exc:
            return Survivors(f"unreadable: {exc}", frozenset(), moved)
        finally:
            conn.close()
        return Survivors(integrity, frozenset(sales), moved, gaps, intents)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Read the running daemon's lane.db through the mount (a reader beside its writer)."""
        conn = sqlite3.connect(f"file:{self.state / 'lane.db'}?mode=ro", uri=True)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.agent.output.splitlines()[-lines:]) if self.agent else ""

    def close(self) -> None:
        """Stop the daemon and unmount, whatever state the campaign stopped in."""
        try:
            if self.agent is not None:
                self.agent.stop()
        finally:
            self.layer.close()
            self.scanner.close()
            self.notify.close()
