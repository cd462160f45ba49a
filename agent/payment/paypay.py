"""The `paypay` adapter: wallet payments over PayPay's Open Payment API, on httpx.

Customer-presented (the lane scans the wallet's code: `POST /v2/payments`) and merchant-presented (the lane
shows a dynamic QR: `POST /v2/codes`, polled with `GET /v2/codes/payments/{merchantPaymentId}`, withdrawn
with `DELETE /v2/codes/{codeId}`).

Why httpx and not the `paypayopa` SDK: the SDK cannot be pointed at a local simulator, and the lane needs
its own handling of ambiguity (docs/session.md "Payment"): a timeout, a reset or a 5xx is a `PaymentUnknown`
for the session to settle by asking the status with the same `merchantPaymentId`, never a second create; a
429 means the request was not processed, so the create is tried again after a back-off. Requests are signed
with `OPA-Auth` (agent/payment/signing.py); the secret comes from a file or a systemd credential. The
scanned wallet code goes into the request body only: never a log line, a repr or the database.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
import time
from pathlib import Path
from typing import Any

import httpx

from agent.errors import ConfigError
from agent.payment import signing
from agent.payment.adapter import (
    Capabilities,
    PaymentNotSent,
    PaymentRef,
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
    PaymentUnknown,
)
from agent.payment.settings import PaymentSection

JSON = "application/json;charset=UTF-8"
RATE_LIMIT_TRIES = 4
STATUSES = {s.value for s in PaymentStatus}
DECLINES = {"USER_DECLINED": "Your wallet declined the payment. Please try another way to pay.",
            "INSUFFICIENT_BALANCE": "Your wallet's balance is too low. Please top it up or pay another way."}


class PayPayAdapter:
    name = "paypay"
    capabilities = Capabilities(customer_presented=True, merchant_presented=True, offline=False)

    def __init__(self, base_url: str, merchant_id: str, key_id: str, secret: bytes, *, timeout_s: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.merchant_id, self.key_id, self._secret = merchant_id, key_id, secret
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout_s, transport=transport)

    async def close(self) -> None:
        await self._client.aclose()

    async def pay(self, request: PaymentRequest) -> PaymentResult:
        if request.merchant_presented:
            return await self._create_code(request)
        if request.user_code is None:
            raise ValueError("a customer-presented payment needs the scanned wallet code")
        body = {"merchantPaymentId": request.payment_id, "userAuthorizationId": request.user_code,
                "amount": {"amount": request.amount, "currency": request.currency},
                "storeId": request.store_id, "terminalId": request.lane_id, "requestedAt": int(time.time())}
        return self._result(request.payment_id, await self._send("POST", "/v2/payments", body))

    async def _create_code(self, request: PaymentRequest) -> PaymentResult:
        """The dynamic QR: the answer is CREATED with the code's URL (what the screen shows) and its expiry."""
        # Whole seconds, rounded up: truncating gave the shopper up to a second less than `qr_expiry_s`.
        expires_at = math.ceil(time.time()) + request.expires_in_s
        body = {"merchantPaymentId": request.payment_id, "codeType": "ORDER_QR",
                "amount": {"amount": request.amount, "currency": request.currency},
                "storeId": request.store_id, "terminalId": request.lane_id, "requestedAt": int(time.time()),
                "codeExpiryDate": expires_at, "isAuthorization": False}
        answer = await self._send("POST", "/v2/codes", body)
        payload = answer.json()
        data = payload.get("data") or {}
        if answer.status_code == 400 and "DUPLICATE" in str(payload.get("resultInfo", {}).get("code", "")):
            raise PaymentUnknown(f"{request.payment_id} was already sent: asking its status")
        if answer.status_code >= 400 or not data.get("codeId") or not data.get("url"):
            return PaymentResult(request.payment_id, PaymentStatus.FAILED, reason="The payment code could not be "
                                 "made. Please try again or ask a member of staff.")
        return PaymentResult(request.payment_id, PaymentStatus.CREATED, code_id=str(data["codeId"]),
                             qr_payload=str(data["url"]), expires_at=float(data.get("expiryDate", expires_at)))

    async def _send(self, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
        """A create: a 429 means the service did not process it, so it is sent again after a back-off."""
        for attempt in range(RATE_LIMIT_TRIES):
            answer = await self._call(method, path, body)
            if answer.status_code != 429:
                return answer
            await asyncio.sleep(0.5 * 2 ** attempt)
        return answer

    async def status(self, ref: PaymentRef) -> PaymentResult:
        path = f"/v2/codes/payments/{ref.payment_id}" if ref.merchant_presented else f"/v2/payments/{ref.payment_id}"
        return self._result(ref.payment_id, await self._call("GET", path))

    async def withdraw(self, ref: PaymentRef) -> PaymentResult:
        if ref.code_id is not None:
            answer = await self._call("DELETE", f"/v2/codes/{ref.code_id}")
            if answer.status_code == 429:
                raise PaymentUnknown(f"withdrawing the code of {ref.payment_id} not confirmed (HTTP 429)")
        return await self.status(ref)

    async def cancel(self, ref: PaymentRef) -> PaymentResult:
        if ref.code_id is not None:
            await self.withdraw(ref)
        answer = await self._call("DELETE", f"/v2/payments/{ref.payment_id}")
        if answer.status_code == 429:
            raise PaymentUnknown(f"cancel of {ref.payment_id} not confirmed (HTTP {answer.status_code})")
        return await self.status(ref)

    async def refund(self, ref: PaymentRef, refund_id: str, amount: int) -> PaymentResult:
        charged = await self.status(ref)
        body = {"merchantRefundId": refund_id, "paymentId": charged.reference,
                "amount": {"amount": amount, "currency": "JPY"}, "requestedAt": int(time.time())}
        answer = await self._call("POST", "/v2/refunds", body)
        if answer.status_code == 429:
            raise PaymentUnknown(f"refund {refund_id} not confirmed (HTTP {answer.status_code})")
        if answer.status_code >= 400:
            return PaymentResult(ref.payment_id, charged.status, reference=charged.reference,
                                 reason=f"the service refused the refund ({_message(answer)})")
        return await self.status(ref)

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        content = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        content_type = JSON if content else ""
        headers = {"Authorization": signing.header(self.key_id, self._secret, path, method, secrets.token_hex(8),
                                                   int(time.time()), content_type, content),
                   "X-ASSUME-MERCHANT": self.merchant_id}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            answer = await self._client.request(method, path, content=content, headers=headers)
        except httpx.ConnectError as exc:
            # No connection, so no request byte was sent: the service cannot have acted on it.
            raise PaymentNotSent(f"the payment service could not be reached ({exc})") from exc
        except httpx.HTTPError as exc:
            raise PaymentUnknown(f"no answer from the payment service ({type(exc).__name__})") from exc
        if answer.status_code >= 500:
            raise PaymentUnknown(f"the payment service answered HTTP {answer.status_code}")
        if answer.status_code == 401:
            raise ConfigError(f"the payment service refused the signature ({_message(answer)}); check [payment] "
                              "api_key_id and api_secret_file against the merchant's API keys")
        return answer

    def _result(self, payment_id: str, answer: httpx.Response) -> PaymentResult:
        payload = answer.json()
        code = str(payload.get("resultInfo", {}).get("code", ""))
        data = payload.get("data") or {}
        if answer.status_code == 404:
            return PaymentResult(payment_id, PaymentStatus.NOT_FOUND)
        if answer.status_code == 429:
            raise PaymentUnknown("the payment service is rate-limiting this lane")
        status = str(data.get("status", ""))
        if code == "DUPLICATE_REQUEST":
            raise PaymentUnknown(f"{payment_id} was already sent: asking its status")
        if code in DECLINES or (answer.status_code >= 400 and status != "COMPLETED"):
            return PaymentResult(payment_id, PaymentStatus.FAILED, reason=DECLINES.get(
                code, "The payment did not go through. Please try again or ask a member of staff."))
        if status not in STATUSES:
            raise PaymentUnknown(f"unexpected payment status {status!r}")
        return PaymentResult(payment_id, PaymentStatus(status), reference=data.get("paymentId"),
                             code_id=data.get("codeId"))


def _message(answer: httpx.Response) -> str:
    try:
        return str(answer.json().get("resultInfo", {}).get("message", answer.reason_phrase))
    except ValueError:
        return answer.reason_phrase


def build(section: PaymentSection) -> PayPayAdapter:
    """The entry point's factory: `[payment] adapter = "paypay"` with its base URL, merchant and key."""
    if not section.base_url or not section.api_key_id or section.api_secret_file is None:
        raise ConfigError("the paypay adapter needs base_url, api_key_id and api_secret_file. Fix: add them to "
                          "[payment] (see config/agent.example.toml)", key="[payment] adapter")
    secret = Path(section.api_secret_file).read_bytes().strip()
    return PayPayAdapter(section.base_url, section.merchant_id, section.api_key_id, secret,
                         timeout_s=section.timeout_s)
