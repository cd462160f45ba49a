"""The payment adapter protocol (entry-point group `omo_edge.payments`) and the values it exchanges.

Why a status in every answer instead of exceptions for declines: a decline is a normal outcome the
shopper must see, while an answer that never came (`PaymentUnknown`) is the dangerous case, where the money
may have moved. The session treats the two differently: after a decline it may try again with a new
payment ID; after an unknown result it asks `status()` with the same ID before anything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from agent.errors import AgentError


class PaymentStatus(StrEnum):
    """The service's view of one payment (PayPay's Open Payment API uses the same words)."""

    CREATED = "CREATED"                 # a merchant-presented code exists; the shopper has not paid yet
    AUTHORIZED = "AUTHORIZED"
    REAUTHORIZING = "REAUTHORIZING"
    COMPLETED = "COMPLETED"             # charged
    REFUNDED = "REFUNDED"
    FAILED = "FAILED"                   # declined; nothing charged
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    NOT_FOUND = "NOT_FOUND"             # the service knows no payment with this ID: nothing was charged

    @property
    def final(self) -> bool:
        return self in FINAL

    @property
    def charged(self) -> bool:
        return self is PaymentStatus.COMPLETED


FINAL = frozenset({PaymentStatus.COMPLETED, PaymentStatus.REFUNDED, PaymentStatus.FAILED, PaymentStatus.CANCELED,
                   PaymentStatus.EXPIRED, PaymentStatus.NOT_FOUND})


@dataclass(frozen=True, slots=True)
class Capabilities:
    customer_presented: bool            # the lane scans the wallet's code
    merchant_presented: bool            # the lane shows a dynamic QR the app pays
    offline: bool                       # may be used while the uplink is down
    simulated: bool = False             # takes the `simulated` method (a payment with no wallet): simulators only
    min_amount: int = 1                 # the least it may be asked to charge (minor units); 0 is never sent


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    payment_id: str                     # the idempotency key (merchantPaymentId): one per attempt, never reused
    amount: int                         # minor units
    currency: str
    store_id: str
    lane_id: str
    user_code: str | None = field(default=None, repr=False)   # a scanned wallet code: to the service only
    merchant_presented: bool = False    # the lane shows a dynamic QR (no user_code) instead of scanning one
    expires_in_s: int = 300             # merchant-presented: how long the QR may be paid

    @property
    def ref(self) -> PaymentRef:
        return PaymentRef(self.payment_id, merchant_presented=self.merchant_presented)


@dataclass(frozen=True, slots=True)
class PaymentResult:
    payment_id: str
    status: PaymentStatus
    reference: str | None = None        # the service's own payment ID, for refunds and reconciliation
    reason: str | None = None           # why it failed, in words fit for the shopper's screen
    qr_payload: str | None = None       # merchant-presented: what the screen renders as a QR
    expires_at: float | None = None     # merchant-presented: epoch seconds
    code_id: str | None = None          # merchant-presented: the service's ID of the QR, to withdraw it


@dataclass(frozen=True, slots=True)
class PaymentRef:
    """Which payment a status query, cancel or refund is about; kept in the intent row, so it survives a restart."""

    payment_id: str
    merchant_presented: bool = False
    code_id: str | None = None


class PaymentUnknown(AgentError):
    """No usable answer (timeout, reset, 5xx): the payment may or may not have happened; query its status."""


class PaymentNotSent(AgentError):
    """The request provably never left the lane (the connection to the service was refused or could not be
    made), so nothing can have been charged: the payment may be released at once, with no status query."""


class PaymentAdapter(Protocol):
    """What a payment service must offer the lane. Every call is idempotent by `payment_id`."""

    name: str
    capabilities: Capabilities

    async def pay(self, request: PaymentRequest) -> PaymentResult:
        """Charge a scanned wallet code, or create the dynamic QR (status CREATED) when `merchant_presented`."""
        ...

    async def status(self, ref: PaymentRef) -> PaymentResult:
        """The service's current view; NOT_FOUND when it never saw the payment ID (nothing was charged)."""
        ...

    async def withdraw(self, ref: PaymentRef) -> PaymentResult:
        """Merchant-presented: withdraw the QR so it can no longer be paid; answers the status after it.

        A payment made just before stays made (the answer is then COMPLETED and the sale is recorded)."""
        ...

    async def cancel(self, ref: PaymentRef) -> PaymentResult:
        """Cancel (void) the payment, withdrawing its QR first; answers the status after it.

        A cancel is a void: the money goes back in full. Services allow it only for a while after the payment
        (PayPay: until 00:14:59 the next day, `agent.payment.reversal`); after that it is a refund."""
        ...

    async def refund(self, ref: PaymentRef, refund_id: str, amount: int) -> PaymentResult:
        """Give `amount` back, idempotently by `refund_id` (merchantRefundId)."""
        ...
