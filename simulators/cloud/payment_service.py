"""A wallet payment service on 127.0.0.1 in the shape of PayPay's Open Payment API, with fault knobs and a ledger.

Customer-presented: `POST /v2/payments` (the scanned wallet code as `userAuthorizationId`, keyed by
`merchantPaymentId`), `GET /v2/payments/{merchantPaymentId}`, `DELETE /v2/payments/{merchantPaymentId}`
(cancel) and `POST /v2/refunds`. Merchant-presented: `POST /v2/codes` (`codeType: ORDER_QR`) makes a dynamic
QR that expires, `GET /v2/codes/payments/{merchantPaymentId}` polls it, `DELETE /v2/codes/{codeId}` withdraws
it. Every request must carry a valid `OPA-Auth` signature (agent/payment/signing.py).

The shopper's app is simulated too: `shopper_pays(code_id)` (or `POST /sim/codes/{codeId}/pay`, unsigned, for
a demo in another process) pays a shown QR, and `app_pays_after_s` pays every new QR by itself after a while.

The ledger counts the charges per payment ID, so a test can assert "charged exactly once" whatever faults it
injected:
- `latency_s`: every answer waits this long;
- `drop_after_commit`: the next N payments are charged, then the connection is closed without a reply;
- `fail_5xx`, `rate_limit`: the next N requests answer 500 or 429 without doing anything;
- `fail_status`: the next N status queries answer 500;
- `decline_codes`: wallet codes the service declines;
- `confirm_s`: a payment stays AUTHORIZED this long (the shopper confirming in the app) before COMPLETED;
- `duplicate_notifications`: each completion is notified (`on_notify`) this many extra times;
- `restart()`: the listener goes away and comes back on the same port, the ledger kept, as a real service's
  database would be.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from agent.payment import signing

KEPT = ("AUTHORIZED", "COMPLETED")      # statuses in which the service holds the shopper's money
Notify = Callable[[str, str], Awaitable[None] | None]


@dataclass
class Charge:
    merchant_payment_id: str
    payment_id: str
    amount: int
    currency: str
    status: str
    accepted_at: float
    charges: int = 1          # times money moved for this ID: a correct lane never makes it more than 1
    code_id: str | None = None
    expires_at: float | None = None
    refunds: dict[str, int] = field(default_factory=dict)


@dataclass
class PaymentService:
    secrets: dict[str, bytes] = field(default_factory=lambda: {"key-1": b"secret-1"})
    latency_s: float = 0.0
    drop_after_commit: int = 0
    fail_5xx: int = 0
    fail_status: int = 0
    rate_limit: int = 0
    decline_codes: set[str] = field(default_factory=set)
    confirm_s: float = 0.0
    app_pays_after_s: float | None = None
    duplicate_notifications: int = 0
    on_notify: Notify | None = None
    ledger: dict[str, Charge] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)          # codeId -> merchantPaymentId
    lanes: dict[str, tuple[str, str]] = field(default_factory=dict)  # merchantPaymentId -> (storeId, terminalId)
    requests: list[tuple[str, str]] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v2/payments", self._create)
        app.router.add_get("/v2/payments/{mpid}", self._status)
        app.router.add_delete("/v2/payments/{mpid}", self._cancel)
        app.router.add_post("/v2/refunds", self._refund)
        app.router.add_post("/v2/codes", self._create_code)
        app.router.add_get("/v2/codes/payments/{mpid}", self._status)
        app.router.add_delete("/v2/codes/{code_id}", self._withdraw_code)
        app.router.add_post("/sim/codes/{code_id}/pay", self._app_pays)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self.url

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def restart(self, down_s: float = 0.0) -> None:
        """The service goes down (connections refused) and comes back on the same port with its ledger."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await asyncio.sleep(down_s)
        await self.start()

    def charged(self, merchant_payment_id: str) -> int:
        """Times money moved for this ID (0 for a decline or an unpaid QR)."""
        charge = self.ledger.get(merchant_payment_id)
        return 0 if charge is None else charge.charges

    def kept(self, merchant_payment_id: str) -> bool:
        """Whether the service holds the shopper's money for this ID now (not declined, voided or refunded)."""
        charge = self.ledger.get(merchant_payment_id)
        return charge is not None and charge.status in KEPT and charge.charges == 1

    def shopper_pays(self, code_id: str) -> str:
        """The shopper's app pays a shown QR; answers the payment's status (EXPIRED when too late)."""
        mpid = self.codes.get(code_id)
        charge = None if mpid is None else self.ledger.get(mpid)
        if charge is None:
            return "NOT_FOUND"
        self._expire(charge)
        if charge.status != "CREATED":
            return charge.status
        charge.status = "AUTHORIZED" if self.confirm_s else "COMPLETED"
        charge.charges, charge.accepted_at = 1, time.time()
        self._notify(charge)
        return charge.status

    def _notify(self, charge: Charge) -> None:
        if self.on_notify is None:
            return
        for _ in range(1 + self.duplicate_notifications):
            outcome = self.on_notify(charge.merchant_payment_id, charge.status)
            if inspect.isawaitable(outcome):
                self._spawn(outcome)

    def _expire(self, charge: Charge) -> None:
        if charge.status == "CREATED" and charge.expires_at is not None and time.time() >= charge.expires_at:
            charge.status = "EXPIRED"
        if charge.status == "AUTHORIZED" and time.time() - charge.accepted_at >= self.confirm_s:
            charge.status = "COMPLETED"

    async def _guard(self, request: web.Request, *, status_query: bool = False) -> tuple[web.Response | None, bytes]:
        """Latency, signature, then the injected failures that happen before any work."""
        body = await request.read()
        self.requests.append((request.method, request.path))
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        why = signing.verify(request.headers.get("Authorization", ""), self.secrets, request.path, request.method,
                             request.headers.get("Content-Type", ""), body, int(time.time()))
        if why is not None:
            return _answer(401, "UNAUTHORIZED", why), body
        if status_query and self.fail_status:
            self.fail_status -= 1
            return _answer(500, "INTERNAL_SERVER_ERROR", "injected"), body
        if self.fail_5xx:
            self.fail_5xx -= 1
            return _answer(500, "INTERNAL_SERVER_ERROR", "injected"), body
        if self.rate_limit:
            self.rate_limit -= 1
            return _answer(429, "TOO_MANY_REQUESTS", "injected"), body
        return None, body

    def _drop_reply(self, request: web.Request) -> bool:
        """The committed work's reply never leaves: the connection is closed instead (fault knob)."""
        if not self.drop_after_commit:
            return False
        self.drop_after_commit -= 1
        assert request.transport is not None
        request.transport.close()
        return True

    async def _create(self, request: web.Request) -> web.StreamResponse:
        refused, body = await self._guard(request)
        if refused is not None:
            return refused
        data = json.loads(body)
        mpid, code = str(data["merchantPaymentId"]), str(data["userAuthorizationId"])
        if mpid in self.ledger:                 # never a second charge for the same ID
            return _answer(400, "DUPLICATE_REQUEST", "merchantPaymentId already used")
        self.lanes[mpid] = (str(data.get("storeId", "")), str(data.get("terminalId", "")))
        declined = code in self.decline_codes
        status = "FAILED" if declined else ("AUTHORIZED" if self.confirm_s else "COMPLETED")
        charge = Charge(mpid, f"P{len(self.ledger) + 1:08d}", int(data["amount"]["amount"]),
                        str(data["amount"]["currency"]), status, time.time(), charges=0 if declined else 1)
        self.ledger[mpid] = charge
        if not declined and self._drop_reply(request):
            return web.Response(status=500)
        if declined:
            return _answer(400, "USER_DECLINED", "the user's wallet declined the payment", _data(charge))
        return _answer(201, "SUCCESS", "Success", _data(charge))

    async def _create_code(self, request: web.Request) -> web.StreamResponse:
        refused, body = await self._guard(request)
        if refused is not None:
            return refused
        data = json.loads(body)
        mpid = str(data["merchantPaymentId"])
        if data.get("codeType") != "ORDER_QR":
            return _answer(400, "INVALID_PARAMS", "codeType must be ORDER_QR")
        if mpid in self.ledger:
            return _answer(400, "DUPLICATE_DYNAMIC_QR_REQUEST", "merchantPaymentId already used")
        self.lanes[mpid] = (str(data.get("storeId", "")), str(data.get("terminalId", "")))
        now = time.time()
        code_id = f"04-{len(self.codes) + 1:012d}"
        expires_at = float(data.get("codeExpiryDate") or now + 300)
        charge = Charge(mpid, f"P{len(self.ledger) + 1:08d}", int(data["amount"]["amount"]),
                        str(data["amount"]["currency"]), "CREATED", now, charges=0, code_id=code_id,
                        expires_at=expires_at)
        self.ledger[mpid] = charge
        self.codes[code_id] = mpid
        if self.app_pays_after_s is not None:
            self._spawn(self._app_pays_later(code_id, self.app_pays_after_s))
        if self._drop_reply(request):
            return web.Response(status=500)
        return _answer(201, "SUCCESS", "Success", {
            "codeId": code_id, "url": f"https://qr.example.invalid/{code_id}",
            "deeplink": f"paypay://payment?link_key={code_id}", "expiryDate": int(expires_at),
            "merchantPaymentId": mpid, "amount": data["amount"], "codeType": "ORDER_QR"})

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _app_pays_later(self, code_id: str, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        self.shopper_pays(code_id)

    async def _app_pays(self, request: web.Request) -> web.Response:
        status = self.shopper_pays(request.match_info["code_id"])
        return _answer(404 if status == "NOT_FOUND" else 200, status, "the simulated app paid the code")

    async def _status(self, request: web.Request) -> web.Response:
        refused, _ = await self._guard(request, status_query=True)
        if refused is not None:
            return refused
        charge = self.ledger.get(request.match_info["mpid"])
        if charge is None:
            return _answer(404, "DYNAMIC_QR_PAYMENT_NOT_FOUND", "no payment with this merchantPaymentId")
        self._expire(charge)
        return _answer(200, "SUCCESS", "Success", _data(charge))

    async def _cancel(self, request: web.Request) -> web.Response:
        refused, _ = await self._guard(request)
        if refused is not None:
            return refused
        mpid = request.match_info["mpid"]
        charge = self.ledger.get(mpid)
        if charge is None:      # cancelled before it arrived: a late create with this ID is refused, not charged
            self.ledger[mpid] = Charge(mpid, f"P{len(self.ledger) + 1:08d}", 0, "JPY", "CANCELED", time.time(),
                                       charges=0)
        else:
            self._expire(charge)
            if charge.status in ("CREATED", *KEPT):
                charge.status = "CANCELED"
        if self._drop_reply(request):
            return web.Response(status=500)
        return _answer(202, "REQUEST_ACCEPTED", "Cancel accepted")

    async def _withdraw_code(self, request: web.Request) -> web.Response:
        refused, _ = await self._guard(request)
        if refused is not None:
            return refused
        mpid = self.codes.get(request.match_info["code_id"])
        charge = None if mpid is None else self.ledger.get(mpid)
        if charge is None:
            return _answer(404, "DYNAMIC_QR_NOT_FOUND", "no such code")
        self._expire(charge)
        if charge.status == "CREATED":        # a paid code stays paid: withdrawing only stops new payments
            charge.status = "CANCELED"
        return _answer(200, "SUCCESS", "Success")

    async def _refund(self, request: web.Request) -> web.Response:
        refused, body = await self._guard(request)
        if refused is not None:
            return refused
        data = json.loads(body)
        charge = next((c for c in self.ledger.values() if c.payment_id == data.get("paymentId")), None)
        if charge is None:
            return _answer(404, "NO_SUCH_PAYMENT", "unknown paymentId")
        refund_id = str(data.get("merchantRefundId"))
        if refund_id not in charge.refunds:   # the same merchantRefundId again gives nothing back twice
            charge.refunds[refund_id] = int(data["amount"]["amount"])
            if sum(charge.refunds.values()) >= charge.amount:
                charge.status = "REFUNDED"
        return _answer(201, "SUCCESS", "Success", {"merchantRefundId": refund_id, "status": "CREATED"})


def _data(charge: Charge) -> dict[str, Any]:
    data = {"paymentId": charge.payment_id, "merchantPaymentId": charge.merchant_payment_id,
            "status": charge.status, "amount": {"amount": charge.amount, "currency": charge.currency},
            "acceptedAt": int(charge.accepted_at)}
    if charge.code_id is not None:
        data["codeId"] = charge.code_id
    return data


def _answer(status: int, code: str, message: str, data: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"resultInfo": {"code": code, "message": message}}
    if data is not None:
        body["data"] = data
    return web.json_response(body, status=status)


class ServiceThread:
    """The service on its own event loop in a thread, for tests that drive a daemon from synchronous code."""

    def __init__(self, service: PaymentService | None = None) -> None:
        self.service = service or PaymentService()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="payment-service", daemon=True)

    def __enter__(self) -> PaymentService:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.service.start(), self._loop).result(10)
        return self.service

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` on the service's loop (the ledger is the loop's: read and change it there)."""

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.service.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
