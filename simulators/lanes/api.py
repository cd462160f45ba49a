"""The whole agent in this process, on its real HTTP server, for tools that drive the local API from outside.

`ThreadedLane` writes a config for the store's lane (the store's catalog loaded, the issuer's key trusted,
the simulated payment, a pty scanner, no broker: events wait in the outbox), starts `agent.app.start` on an
event loop in its own thread and gives the API's base URL. A client in the calling thread (schemathesis, which
calls with `requests`) then talks to it over 127.0.0.1 exactly as the kiosk would. `scan()` sends a code
through the pty, `lane_db()` opens lane.db read-only for checks afterwards.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import threading
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any

from agent import app
from agent.config import load
from simulators.cloud.store_catalog import ONIGIRI, TEA
from simulators.cloud.tokens import TokenIssuer
from simulators.devices.serial_pty import VirtualSerialScanner
from simulators.doubles.local_http import request_json
from simulators.doubles.ports import free_port
from simulators.fixtures.daemon import render_toml
from simulators.fixtures.session import store_state
from simulators.fixtures.shop import until


class ThreadedLane:
    def __init__(self, work: Path, issuer: TokenIssuer) -> None:
        self.work, self.issuer = work, issuer
        self.scanner = VirtualSerialScanner("api-lane")
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="api-lane", daemon=True)
        self._lane: app.Lane | None = None

    def _config(self) -> Path:
        state = store_state(self.work)
        if self.issuer.key_path is None:
            (self.work / "keys").mkdir(exist_ok=True)
            self.issuer.write_public_key(self.work / "keys")
        path = self.work / "agent.toml"
        path.write_text(render_toml({
            "agent": {"store_id": "store-001", "lane_id": "lane-01", "state_dir": str(state),
                      "allow_simulators": True, "log_level": "warning"},
            "api": {"listen": f"127.0.0.1:{self.port}"},
            "trust": {"keys": [str(self.issuer.key_path)]},
            "payment": {"adapter": "simulated"},
            "session": {"registration_number": "T9234567890123", "issuer_name": "OMO Mart"},
            "points": {"unit": 100},
            "devices": [{"name": "handheld", "driver": "serial", "port": self.scanner.path, "bounce_ms": 0}],
        }))
        return path

    def call(self, coro: Any, timeout_s: float = 30) -> Any:
        """Run a coroutine on the lane's loop and wait for its result."""
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout_s)

    def __enter__(self) -> ThreadedLane:
        config = load(self._config())
        self._thread.start()
        self._lane = self.call(app.start(config))
        # Scans written before the driver has opened the pty would be flushed with its settings.
        until(lambda: self.api("GET", "/v1/health")[1]["components"].get("device:handheld", {}).get("state") == "ok",
              "the scanner", 15)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if self._lane is not None:
                self.call(app.stop(self._lane))
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()
            self.scanner.close()

    @property
    def lane(self) -> app.Lane:
        assert self._lane is not None
        return self._lane

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        return request_json(self.base_url + path, method, body)

    def lane_db(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.work / 'state' / 'lane.db'}?mode=ro", uri=True)


KNOWN_BASKET = (TEA, TEA, ONIGIRI, ONIGIRI)
KNOWN_TOTAL, KNOWN_TAX = 600, 44       # tea 150 x 2, onigiri "2 for 300"; 8 % inclusive: 600 x 8 / 108, down


def settle(lane: ThreadedLane) -> dict[str, Any]:
    """Whatever a client left (a locked lane, a visit waiting for staff, a basket), put back to a lane ready for
    the next shopper, as staff would: unlock, approve, cancel."""
    staff = {"token": lane.issuer.staff("S-0001")}
    for _ in range(20):
        view = until(lambda: (v := lane.api("GET", "/v1/session")[1])["state"] != "paying" and v, "payment", 30)
        state = view["state"]
        if state in ("idle", "paid", "cancelled", "abandoned"):
            return dict(view)
        if state == "locked":
            lane.api("POST", "/v1/lane/unlock", {"token": staff["token"]})
        elif view["interventions"] and any(i["status"] == "open" for i in view["interventions"]):
            lane.api("POST", "/v1/attendant/approve", {"token": lane.issuer.staff("S-0001")})
        else:
            lane.api("POST", "/v1/session/cancel")
    raise AssertionError(f"the lane could not be settled: {view}")


def _scanned(lane: ThreadedLane, items: int) -> bool:
    return sum(int(line["quantity"]) for line in lane.api("GET", "/v1/session")[1]["lines"]) >= items


def known_basket_problems(lane: ThreadedLane) -> list[str]:
    """Scan the known basket through the pty, check the price, pay, check the sale and lane.db; what is wrong."""
    settle(lane)
    for n, code in enumerate(KNOWN_BASKET, 1):
        lane.scanner.scan(code, aim="]E0")
        until(functools.partial(_scanned, lane, n), f"the scan of {code}", 15)
    problems = []
    totals = lane.api("GET", "/v1/session")[1]["totals"]
    if (totals["total"], totals["tax"]) != (KNOWN_TOTAL, KNOWN_TAX):
        problems.append(f"the known basket is priced {totals}, not total {KNOWN_TOTAL} tax {KNOWN_TAX}")
    status, paid = lane.api("POST", "/v1/session/pay", {"method": "simulated"})
    if status != 200 or paid["state"] != "paid":
        return [*problems, f"paying the known basket answered {status} {paid.get('state')}"]
    conn = lane.lane_db()
    try:
        total = conn.execute("SELECT total FROM sales WHERE sale_id = ?", (paid["sale_id"],)).fetchone()
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
        seqs = [row[0] for row in conn.execute("SELECT seq FROM outbox ORDER BY seq")]
    finally:
        conn.close()
    if total is None or total[0] != KNOWN_TOTAL:
        problems.append(f"the sale recorded {total}, not {KNOWN_TOTAL}")
    if check != "ok":
        problems.append(f"integrity_check: {check}")
    if seqs != list(range(1, len(seqs) + 1)):
        problems.append(f"outbox seq not gap-free from 1 ({len(seqs)} rows, last {seqs[-1:]})")
    return problems
