"""Staff reversing a recorded sale: a void while the service still cancels the payment, else a refund.

Why a row before the call: a refund whose reply is lost must not become two refunds. The reversal is
recorded (with its `merchantRefundId`) before the service hears of it, one per sale; asking again for the same
sale resumes that reversal with the same ID, and the service gives nothing back twice for one ID. A reversal
that began as a cancel and is asked again after the service's cancel window is sent as a refund (a cancel
would be refused by then). When the service confirms, an `omo.payment/1` event (`voided` or `refunded`, with
the sale ID, the staff member and the service's reference) goes to the outbox in the same transaction that
marks the reversal done, once: reversals of one sale run one at a time (two staff at the same moment get one
reversal and one event; the second is answered "already voided").
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent.payment import intents
from agent.payment.adapter import PaymentRef, PaymentResult, PaymentStatus
from agent.payment.intents import Reversal
from agent.payment.reversal import reversal_kind
from agent.session.records import visits
from agent.session.rules.tender import NO_CHARGE
from agent.sync import outbox

if TYPE_CHECKING:
    from agent.session.controller import SessionController

logger = logging.getLogger(__name__)
RETURNED = (PaymentStatus.CANCELED, PaymentStatus.REFUNDED)


@dataclass(frozen=True, slots=True)
class ReversalAnswer:
    """What staff see: `done`, or `unknown` (not confirmed yet; asking again resumes the same reversal)."""

    sale_id: str
    kind: str
    state: str
    refund_id: str
    amount: int
    reference: str | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"sale_id": self.sale_id, "kind": self.kind, "state": self.state, "refund_id": self.refund_id,
                "amount": self.amount, "reference": self.reference, "detail": self.detail}


class SaleNotFound(LookupError):
    """No sale with this ID was recorded at this lane."""


async def reverse_sale(ctl: SessionController, sale_id: str, staff_id: str, reason: str) -> ReversalAnswer:
    """Void or refund a recorded sale in full, once, whatever is asked how many times (and however at once)."""
    # Kept for the process's life (a few per day): dropping a lock a waiter is about to take would let a third
    # request run beside the second.
    async with ctl.reversing.setdefault(sale_id, asyncio.Lock()):
        return await _reverse(ctl, sale_id, staff_id, reason)


async def _reverse(ctl: SessionController, sale_id: str, staff_id: str, reason: str) -> ReversalAnswer:
    reader = ctl.lane_db.reader()
    row = reader.execute("SELECT body FROM sales WHERE sale_id = ?", (sale_id,)).fetchone()
    if row is None:
        raise SaleNotFound(sale_id)
    payment = json.loads(row[0])["payment"]
    intent = intents.for_sale(reader, sale_id)
    ref = PaymentRef(payment["payment_id"], bool(intent and intent.merchant_presented),
                     intent.code_id if intent else None)
    now = ctl.clock.time()
    paid_at = intent.updated_at if intent is not None else now
    wanted = Reversal(sale_id, f"RF-{sale_id}"[:64], ref.payment_id,
                      reversal_kind(paid_at, now, ctl.payment.cancel_zone), int(payment["amount"]),
                      "requested", staff_id, reason, None, now, now)
    rev: Reversal = await ctl.lane_db.write(intents.begin_reversal, wanted)
    if rev.state == "done":
        return _answer(rev, f"already {_done_word(rev.kind)} (by {rev.staff_id}); nothing more is given back")
    # A sale with nothing paid (`no_charge`) has no payment at any service: its reversal is done at once.
    result = PaymentResult(ref.payment_id, PaymentStatus.CANCELED) if payment["method"] == NO_CHARGE else \
        await _call(ctl, rev, ref)
    if result is None or result.status not in RETURNED:
        await ctl.lane_db.write(intents.finish_reversal, sale_id, "unknown", None, ctl.clock.time())
        status = "no answer" if result is None else f"status {result.status.value}"
        return _answer(rev, f"the payment service has not confirmed the {rev.kind} yet ({status}); ask again "
                            "to resume it (nothing is given back twice)", state="unknown")
    reference = result.reference
    # What the service says happened: a cancel that went through before a refund was asked is a void.
    state = "voided" if result.status is PaymentStatus.CANCELED else "refunded"

    def write(conn: sqlite3.Connection) -> bool:
        current = intents.reversal(conn, sale_id)
        if current is not None and current.state == "done":
            return False                          # already recorded (and announced) once
        intents.finish_reversal(conn, sale_id, "done", reference, ctl.clock.time())
        visits.return_points(conn, sale_id)
        outbox.enqueue(conn, "sales", "omo.payment/1", {
            "payment_id": rev.payment_id, "amount": rev.amount, "currency": ctl.currency,
            "state": state, "sale_id": sale_id, "staff_id": rev.staff_id,
            "refund_id": rev.refund_id, "reference": reference, "reversal": rev.reason})
        return True

    if await ctl.lane_db.write(write):
        ctl.on_recorded(0)
        await ctl.refresh_limits()           # the member may be shopping again: show the points back now
    done = intents.reversal(ctl.lane_db.reader(), sale_id)
    assert done is not None
    return _answer(done, "voided: the payment was cancelled" if state == "voided" else "refunded")


def _done_word(kind: str) -> str:
    return "voided" if kind == "cancel" else "refunded"


async def _call(ctl: SessionController, rev: Reversal, ref: PaymentRef) -> PaymentResult | None:
    try:
        async with asyncio.timeout(ctl.payment.timeout_s):
            if rev.kind == "cancel":
                return await ctl.adapter.cancel(ref)
            return await ctl.adapter.refund(ref, rev.refund_id, rev.amount)
    except Exception as exc:   # noqa: BLE001 - not confirmed: staff ask again, with the same refund ID
        logger.warning("sale %s: the %s got no usable answer (%s)", rev.sale_id, rev.kind, type(exc).__name__)
        return None


def _answer(rev: Reversal, detail: str, state: str | None = None) -> ReversalAnswer:
    return ReversalAnswer(rev.sale_id, rev.kind, state or rev.state, rev.refund_id, rev.amount, rev.reference, detail)
