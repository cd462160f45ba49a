"""The `simulated` payment adapter: an in-process payment service with knobs, so a lane sells end to end.

It keeps a ledger like a real service (one entry per payment ID, charged at most once) and answers as the
configured outcome says: `approve`, `decline`, or `timeout`, which charges and then loses the reply, the
ambiguous case a real adapter must survive. A merchant-presented QR is paid by the simulated app
`app_pays_after_s` after it is made (never, when None), unless it expired first. The ledger lives in this
process only: after a restart it knows no payment (status NOT_FOUND), as a fresh simulator would. The HTTP
simulator of a real wallet service, with more faults, is simulators/cloud/payment_service.py.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace

from agent.payment.adapter import (
    Capabilities,
    PaymentRef,
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
    PaymentUnknown,
)
from agent.payment.settings import PaymentSection

OUTCOMES = ("approve", "decline", "timeout")


@dataclass
class LedgerEntry:
    amount: int
    result: PaymentResult
    charges: int                        # how many times money moved for this ID: must never exceed 1
    created_at: float = 0.0


class SimulatedAdapter:
    """In-process payment service; `outcome` and `latency_s` may be changed between payments."""

    name = "simulated"
    capabilities = Capabilities(customer_presented=True, merchant_presented=True, offline=True, simulated=True)

    def __init__(self, outcome: str = "approve", latency_s: float = 0.0, app_pays_after_s: float | None = 1.0) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
        self.outcome = outcome
        self.latency_s = latency_s
        self.app_pays_after_s = app_pays_after_s
        self.ledger: dict[str, LedgerEntry] = {}

    async def pay(self, request: PaymentRequest) -> PaymentResult:
        if self.latency_s:
            await asyncio.sleep(self.latency_s)      # the service's own time, not the lane's clock
        entry = self.ledger.get(request.payment_id)
        if entry is not None:                         # a repeated request: the same answer, no new charge
            return entry.result
        if request.merchant_presented:
            return self._code(request)
        if self.outcome == "decline":
            result = PaymentResult(request.payment_id, PaymentStatus.FAILED,
                                   reason="The payment was declined. Please try another way to pay.")
            self.ledger[request.payment_id] = LedgerEntry(request.amount, result, 0)
            return result
        result = PaymentResult(request.payment_id, PaymentStatus.COMPLETED, reference=self._reference())
        self.ledger[request.payment_id] = LedgerEntry(request.amount, result, 1)
        if self.outcome == "timeout":
            raise PaymentUnknown(f"no reply from the simulated payment service for {request.payment_id}")
        return result

    def _reference(self) -> str:
        return f"SIM-{len(self.ledger) + 1:06d}"

    def _code(self, request: PaymentRequest) -> PaymentResult:
        code_id = f"SIMQR-{len(self.ledger) + 1:06d}"
        now = time.time()
        result = PaymentResult(request.payment_id, PaymentStatus.CREATED, code_id=code_id,
                               qr_payload=f"https://qr.example.invalid/{code_id}",
                               expires_at=now + request.expires_in_s)
        entry = LedgerEntry(request.amount, result, 0, created_at=now)
        self.ledger[request.payment_id] = entry
        return result

    def _settle_code(self, entry: LedgerEntry) -> None:
        """A shown QR is paid by the simulated app after `app_pays_after_s`, or expires first."""
        if entry.result.status is not PaymentStatus.CREATED:
            return
        now = time.time()
        paid_at = None if self.app_pays_after_s is None else entry.created_at + self.app_pays_after_s
        expires_at = entry.result.expires_at or now
        if paid_at is not None and paid_at <= now and paid_at < expires_at:
            entry.result = replace(entry.result, status=PaymentStatus.COMPLETED, reference=self._reference())
            entry.charges = 1
        elif now >= expires_at:
            entry.result = replace(entry.result, status=PaymentStatus.EXPIRED)

    async def status(self, ref: PaymentRef) -> PaymentResult:
        entry = self.ledger.get(ref.payment_id)
        if entry is None:
            return PaymentResult(ref.payment_id, PaymentStatus.NOT_FOUND)
        self._settle_code(entry)
        return entry.result

    async def withdraw(self, ref: PaymentRef) -> PaymentResult:
        entry = self.ledger.get(ref.payment_id)
        if entry is None:
            return PaymentResult(ref.payment_id, PaymentStatus.NOT_FOUND)
        self._settle_code(entry)
        if entry.result.status is PaymentStatus.CREATED:
            entry.result = replace(entry.result, status=PaymentStatus.CANCELED)
        return entry.result

    async def cancel(self, ref: PaymentRef) -> PaymentResult:
        entry = self.ledger.get(ref.payment_id)
        if entry is None:
            return PaymentResult(ref.payment_id, PaymentStatus.NOT_FOUND)
        self._settle_code(entry)
        if entry.result.status in (PaymentStatus.COMPLETED, PaymentStatus.CREATED):
            entry.result = replace(entry.result, status=PaymentStatus.CANCELED)
        return entry.result

    async def refund(self, ref: PaymentRef, refund_id: str, amount: int) -> PaymentResult:
        entry = self.ledger.get(ref.payment_id)
        if entry is None or entry.result.status is not PaymentStatus.COMPLETED:
            return PaymentResult(ref.payment_id, PaymentStatus.NOT_FOUND if entry is None else entry.result.status)
        entry.result = replace(entry.result, status=PaymentStatus.REFUNDED)
        return entry.result

    def charged(self, payment_id: str) -> int:
        """How many times money moved for this payment ID (a test asserts it is at most 1)."""
        entry = self.ledger.get(payment_id)
        return 0 if entry is None else entry.charges


def build(section: PaymentSection) -> SimulatedAdapter:
    """The entry point's factory: the adapter from `[payment]`."""
    pays_after = section.simulated_app_pays_after_s
    return SimulatedAdapter(section.simulated_outcome, section.simulated_latency_ms / 1000,
                            None if pays_after < 0 else pays_after)
