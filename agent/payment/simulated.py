"""The `simulated` payment adapter: an in-process payment service with knobs, so a lane sells end to end.

It keeps a ledger like a real service (one entry per payment ID, charged at most once) and answers as the
configured outcome says: `approve`, `decline`, or `timeout`, which charges and then loses the reply, the
ambiguous case a real adapter must survive. The ledger lives in this process only: after a restart it knows
no payment (status NOT_FOUND), as a fresh simulator would. The issue after the session adds the HTTP
simulator of a real wallet service with the same knobs and more faults.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from agent.config import PaymentSection
from agent.payment.adapter import Capabilities, PaymentRequest, PaymentResult, PaymentStatus, PaymentUnknown

OUTCOMES = ("approve", "decline", "timeout")


@dataclass
class LedgerEntry:
    amount: int
    result: PaymentResult
    charges: int                        # how many times money moved for this ID: must never exceed 1


class SimulatedAdapter:
    """In-process payment service; `outcome` and `latency_s` may be changed between payments."""

    name = "simulated"
    capabilities = Capabilities(customer_presented=True, merchant_presented=False, offline=True)

    def __init__(self, outcome: str = "approve", latency_s: float = 0.0) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
        self.outcome = outcome
        self.latency_s = latency_s
        self.ledger: dict[str, LedgerEntry] = {}

    async def pay(self, request: PaymentRequest) -> PaymentResult:
        if self.latency_s:
            await asyncio.sleep(self.latency_s)      # the service's own time, not the lane's clock
        entry = self.ledger.get(request.payment_id)
        if entry is not None:                         # a repeated request: the same answer, no new charge
            return entry.result
        if self.outcome == "decline":
            result = PaymentResult(request.payment_id, PaymentStatus.FAILED,
                                   reason="The payment was declined. Please try another way to pay.")
            self.ledger[request.payment_id] = LedgerEntry(request.amount, result, 0)
            return result
        reference = f"SIM-{len(self.ledger) + 1:06d}"
        result = PaymentResult(request.payment_id, PaymentStatus.COMPLETED, reference=reference)
        self.ledger[request.payment_id] = LedgerEntry(request.amount, result, 1)
        if self.outcome == "timeout":
            raise PaymentUnknown(f"no reply from the simulated payment service for {request.payment_id}")
        return result

    async def status(self, payment_id: str) -> PaymentResult:
        entry = self.ledger.get(payment_id)
        return entry.result if entry else PaymentResult(payment_id, PaymentStatus.NOT_FOUND)

    async def cancel(self, payment_id: str) -> PaymentResult:
        entry = self.ledger.get(payment_id)
        if entry is None:
            return PaymentResult(payment_id, PaymentStatus.NOT_FOUND)
        if entry.result.status is PaymentStatus.COMPLETED:
            entry.result = replace(entry.result, status=PaymentStatus.CANCELED)
        return entry.result

    async def refund(self, payment_id: str, refund_id: str, amount: int) -> PaymentResult:
        entry = self.ledger.get(payment_id)
        if entry is None or entry.result.status is not PaymentStatus.COMPLETED:
            return PaymentResult(payment_id, PaymentStatus.NOT_FOUND if entry is None else entry.result.status)
        entry.result = replace(entry.result, status=PaymentStatus.REFUNDED)
        return entry.result

    def charged(self, payment_id: str) -> int:
        """How many times money moved for this payment ID (a test asserts it is at most 1)."""
        entry = self.ledger.get(payment_id)
        return 0 if entry is None else entry.charges


def build(section: PaymentSection) -> SimulatedAdapter:
    """The entry point's factory: the adapter from `[payment]`."""
    return SimulatedAdapter(section.simulated_outcome, section.simulated_latency_ms / 1000)
