"""A whole lane in this process for the money model (simulators/trials/money_model.py): the real pipeline, controller,
checkout and local API on 127.0.0.1, on a real lane.db and catalog in a directory, a fake clock, and a
simulated payment service whose ledger outlives the lane's restarts.

Why the API over HTTP and not the controller's methods: the routes decide things too (whether points may be
redeemed, which payment method a request means), and a model that called the controller directly would miss
what they get wrong. Scans go through `Pipeline.handle`, as a scanner's do.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from agent.api.events import EventHub
from agent.api.server import ApiServer
from agent.api.session_routes import SessionRoutes
from agent.catalog.db import CatalogDb
from agent.catalog.load import load_snapshot
from agent.config import ApiSection, PaymentSection, PointsSection, SessionSection
from agent.health import HealthRegistry
from agent.payment.adapter import PaymentRef, PaymentRequest, PaymentResult, PaymentStatus, PaymentUnknown
from agent.payment.simulated import SimulatedAdapter
from simulators.cloud.catalog_data import write_lines
from simulators.cloud.tokens import TokenIssuer
from simulators.doubles.clock import FakeClock
from simulators.doubles.ports import free_port
from simulators.fixtures.session import SessionLane

PAY_OUTCOMES = ("approve", "decline", "timeout", "lost")   # timeout: charged, reply lost; lost: never arrived
NETWORK_S = 0.002     # a reversal's round trip (real time): two staff voids of one sale overlap as they would


@dataclass(frozen=True, slots=True)
class Request:
    """One request the lane sent to the payment service, as the service saw it."""

    payment_id: str
    amount: int
    merchant_presented: bool


class LedgerService:
    """The simulated payment adapter with the outcome chosen per payment, and a ledger of every request.

    One `SimulatedAdapter` per outcome keeps the charges (at most one per payment ID); "lost" is a request that
    never reached any of them (the service then knows no such payment). A QR with outcome "decline" is one the
    shopper never pays, so it expires.
    """

    name = "simulated"
    capabilities = SimulatedAdapter.capabilities

    def __init__(self) -> None:
        self._services = {outcome: SimulatedAdapter(outcome, app_pays_after_s=0.0)
                          for outcome in ("approve", "decline", "timeout")}
        self._never_paid = SimulatedAdapter("approve", app_pays_after_s=None)
        self._routes: dict[str, SimulatedAdapter] = {}
        self._next = "approve"
        self.requests: list[Request] = []

    def will(self, outcome: str) -> None:
        """The next payment's outcome."""
        self._next = outcome

    async def pay(self, request: PaymentRequest) -> PaymentResult:
        self.requests.append(Request(request.payment_id, request.amount, request.merchant_presented))
        if self._next == "lost":
            raise PaymentUnknown(f"the request for {request.payment_id} never reached the service")
        service = self._services[self._next]
        if request.merchant_presented and self._next != "approve":
            service = self._never_paid
        self._routes[request.payment_id] = service
        return await service.pay(request)

    def _of(self, ref: PaymentRef) -> SimulatedAdapter | None:
        return self._routes.get(ref.payment_id)

    async def status(self, ref: PaymentRef) -> PaymentResult:
        service = self._of(ref)
        return PaymentResult(ref.payment_id, PaymentStatus.NOT_FOUND) if service is None else await service.status(ref)

    async def withdraw(self, ref: PaymentRef) -> PaymentResult:
        service = self._of(ref)
        return PaymentResult(ref.payment_id, PaymentStatus.NOT_FOUND) if service is None else \
            await service.withdraw(ref)

    async def cancel(self, ref: PaymentRef) -> PaymentResult:
        await asyncio.sleep(NETWORK_S)
        service = self._of(ref)
        return PaymentResult(ref.payment_id, PaymentStatus.NOT_FOUND) if service is None else await service.cancel(ref)

    async def refund(self, ref: PaymentRef, refund_id: str, amount: int) -> PaymentResult:
        await asyncio.sleep(NETWORK_S)
        service = self._of(ref)
        return PaymentResult(ref.payment_id, PaymentStatus.NOT_FOUND) if service is None else \
            await service.refund(ref, refund_id, amount)

    def kept(self) -> dict[str, int]:
        """Payment ID -> amount, for every charge the service still keeps (charged and not given back)."""
        kept: dict[str, int] = {}
        for payment_id, service in self._routes.items():
            entry = service.ledger.get(payment_id)
            if entry is not None and entry.charges and entry.result.status is PaymentStatus.COMPLETED:
                kept[payment_id] = entry.amount
        return kept

    def charges(self) -> dict[str, int]:
        """Payment ID -> how many times money moved for it (never more than once)."""
        return {pid: service.charged(pid) for pid, service in self._routes.items()}


def catalog_template(work: Path, records: list[dict[str, Any]]) -> Path:
    """A state directory with `records` loaded as the catalog, to be copied for each lane (a load per program
    would cost more than the program)."""
    state = work / "template"
    state.mkdir(parents=True)
    catalog = CatalogDb.open(state)
    load_snapshot(catalog, write_lines(work / "catalog.jsonl", records, version=1))
    catalog.close()
    return state


@dataclass
class MoneyLane:
    """One lane on its own files; `open()` and `close()` bracket it, `restart()` reopens on the same files."""

    work: Path
    template: Path
    issuer: TokenIssuer
    settings: SessionSection
    points: PointsSection
    clock: FakeClock = field(default_factory=lambda: FakeClock(start_wall=time.time()))
    service: LedgerService = field(default_factory=LedgerService)
    lane: SessionLane | None = None
    _server: ApiServer | None = None
    _http: aiohttp.ClientSession | None = None
    _base: str = ""

    async def open(self) -> None:
        state = self.work / "state"
        shutil.copytree(self.template, state)
        self.lane = SessionLane(state, self.issuer, settings=self.settings, points=self.points, clock=self.clock,
                                adapter=self.service, payment=PaymentSection(poll_interval_s=0.25, qr_expiry_s=30))
        await self.lane.open()
        await self._serve()
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    async def _serve(self) -> None:
        lane = self.lane
        assert lane is not None and lane.controller is not None and lane.pipeline is not None
        assert lane.checkout is not None
        port = free_port()
        self._server = ApiServer(ApiSection(listen=f"127.0.0.1:{port}"), HealthRegistry("money"), EventHub())
        SessionRoutes(lane.controller, lane.pipeline, lane.checkout).add_to(self._server.app)
        await self._server.start()
        self._base = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._server is not None:
            await self._server.stop()
        if self.lane is not None:
            await self.lane.stop()

    async def restart(self) -> None:
        """Close every file and the API, then open them again, as after `kill -9` (the service keeps its ledger)."""
        assert self.lane is not None and self._server is not None
        await self._server.stop()
        await self.lane.restart(settle=False)
        await self._serve()
        await self.settle()

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        assert self._http is not None
        async with self._http.request(method, self._base + path, json=body) as response:
            return response.status, await response.json()

    async def settle(self, step_s: float = 0.25, limit: int = 20000) -> None:
        """Let the lane's clock run until recovery and every payment being followed have settled.

        The clock moves only while something waits on it, by `step_s` at a time, so the lane sees the same
        times however fast the machine is (a program replayed by hypothesis must take the same path)."""
        assert self.lane is not None and self.lane.checkout is not None and self.lane.pipeline is not None
        checkout, pipeline = self.lane.checkout, self.lane.pipeline
        for _ in range(limit):
            busy = [t for t in [checkout.recovery, *pipeline.payments_started(), *checkout.following()]
                    if t is not None and not t.done()]
            if not busy:
                return
            await asyncio.sleep(0.0005)
            if self.clock.sleeping:
                self.clock.advance(step_s)
        raise AssertionError("the lane's payments did not settle")

    @property
    def view(self) -> dict[str, Any]:
        assert self.lane is not None
        return self.lane.view

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        assert self.lane is not None and self.lane.lane_db is not None
        return list(self.lane.lane_db.reader().execute(sql, args).fetchall())

    def sales(self) -> list[dict[str, Any]]:
        return [json.loads(body) for (body,) in self.rows("SELECT body FROM sales ORDER BY rowid")]

    def last_scan(self) -> dict[str, Any]:
        assert self.lane is not None
        return next(m for m in reversed(self.lane.screen) if m.get("type") == "scan")
