"""A wallet payment service on 127.0.0.1 in the shape of PayPay's Open Payment API, with fault knobs and a ledger.

Customer-presented payments only so far: `POST /v2/payments` (the scanned wallet code as
`userAuthorizationId`, keyed by `merchantPaymentId`), `GET /v2/payments/{merchantPaymentId}`,
`DELETE /v2/payments/{merchantPaymentId}` (cancel) and `POST /v2/refunds`. Every request must carry a valid
`OPA-Auth` signature (agent/payment/signing.py). The ledger counts the charges per payment ID, so a test can
assert "charged exactly once" whatever faults it injected:
- `latency_s`: every answer waits this long;
- `drop_after_commit`: the next N payments are charged, then the connection is closed without a reply;
- `fail_5xx`, `rate_limit`: the next N requests answer 500 or 429 without doing anything;
- `decline_codes`: wallet codes the service declines;
- `confirm_s`: a payment stays AUTHORIZED this long (the shopper confirming in the app) before COMPLETED.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from agent.payment import signing


@dataclass
class Charge:
    merchant_payment_id: str
    payment_id: str
    amount: int
    currency: str
    status: str
    accepted_at: float
    charges: int = 1          # times money moved for this ID: a correct lane never makes it more than 1


@dataclass
class PaymentService:
    secrets: dict[str, bytes] = field(default_factory=lambda: {"key-1": b"secret-1"})
    latency_s: float = 0.0
    drop_after_commit: int = 0
    fail_5xx: int = 0
    rate_limit: int = 0
    decline_codes: set[str] = field(default_factory=set)
    confirm_s: float = 0.0
    ledger: dict[str, Charge] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    _runner: web.AppRunner | None = None
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
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def charged(self, merchant_payment_id: str) -> int:
        charge = self.ledger.get(merchant_payment_id)
        return 0 if charge is None or charge.status == "FAILED" else charge.charges

    async def _guard(self, request: web.Request) -> tuple[web.Response | None, bytes]:
        """Latency, signature, then the injected failures that happen before any work."""
        body = await request.read()
        self.requests.append((request.method, request.path))
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        why = signing.verify(request.headers.get("Authorization", ""), self.secrets, request.path, request.method,
                             request.headers.get("Content-Type", ""), body, int(time.time()))
        if why is not None:
            return _answer(401, "UNAUTHORIZED", why), body
        if self.fail_5xx:
            self.fail_5xx -= 1
            return _answer(500, "INTERNAL_SERVER_ERROR", "injected"), body
        if self.rate_limit:
            self.rate_limit -= 1
            return _answer(429, "TOO_MANY_REQUESTS", "injected"), body
        return None, body

    async def _create(self, request: web.Request) -> web.StreamResponse:
        refused, body = await self._guard(request)
        if refused is not None:
            return refused
        data = json.loads(body)
        mpid, code = str(data["merchantPaymentId"]), str(data["userAuthorizationId"])
        if mpid in self.ledger:                 # never a second charge for the same ID
            return _answer(400, "DUPLICATE_REQUEST", "merchantPaymentId already used")
        status = "FAILED" if code in self.decline_codes else ("AUTHORIZED" if self.confirm_s else "COMPLETED")
        charge = Charge(mpid, f"P{len(self.ledger) + 1:08d}", int(data["amount"]["amount"]),
                        str(data["amount"]["currency"]), status, time.time())
        self.ledger[mpid] = charge
        if self.drop_after_commit and status != "FAILED":
            self.drop_after_commit -= 1
            assert request.transport is not None
            request.transport.close()          # committed, and the reply never leaves
            return web.Response(status=500)
        if status == "FAILED":
            return _answer(400, "USER_DECLINED", "the user's wallet declined the payment", _data(charge))
        return _answer(201, "SUCCESS", "Success", _data(charge))

    async def _status(self, request: web.Request) -> web.Response:
        refused, _ = await self._guard(request)
        if refused is not None:
            return refused
        charge = self.ledger.get(request.match_info["mpid"])
        if charge is None:
            return _answer(404, "DYNAMIC_QR_PAYMENT_NOT_FOUND", "no payment with this merchantPaymentId")
        if charge.status == "AUTHORIZED" and time.time() - charge.accepted_at >= self.confirm_s:
            charge.status = "COMPLETED"
        return _answer(200, "SUCCESS", "Success", _data(charge))

    async def _cancel(self, request: web.Request) -> web.Response:
        refused, _ = await self._guard(request)
        if refused is not None:
            return refused
        charge = self.ledger.get(request.match_info["mpid"])
        if charge is not None and charge.status in ("AUTHORIZED", "COMPLETED"):
            charge.status = "CANCELED"
        return _answer(202, "REQUEST_ACCEPTED", "Cancel accepted")

    async def _refund(self, request: web.Request) -> web.Response:
        refused, body = await self._guard(request)
        if refused is not None:
            return refused
        data = json.loads(body)
        charge = next((c for c in self.ledger.values() if c.payment_id == data.get("paymentId")), None)
        if charge is None:
            return _answer(404, "NO_SUCH_PAYMENT", "unknown paymentId")
        charge.status = "REFUNDED"
        return _answer(201, "SUCCESS", "Success", {"merchantRefundId": data.get("merchantRefundId"),
                                                   "status": "CREATED"})


def _data(charge: Charge) -> dict[str, Any]:
    return {"paymentId": charge.payment_id, "merchantPaymentId": charge.merchant_payment_id, "status": charge.status,
            "amount": {"amount": charge.amount, "currency": charge.currency},
            "acceptedAt": int(charge.accepted_at)}


def _answer(status: int, code: str, message: str, data: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"resultInfo": {"code": code, "message": message}}
    if data is not None:
        body["data"] = data
    return web.json_response(body, status=status)
