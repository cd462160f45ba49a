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


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    payment_id: str                     # the idempotency key (merchantPaymentId): one per attempt, never reused
    amount: int                         # minor units
    currency: str
    store_id: str
    lane_id: str
    user_code: str | None = field(default=None, repr=False)   # a scanned wallet code: to the service only


@dataclass(frozen=True, slots=True)
class PaymentResult:
    payment_id: str
    status: PaymentStatus
    reference: str | None = None        # the service's own payment ID, for refunds and reconciliation
    reason: str | None = None           # why it failed, in words fit for the shopper's screen
    qr_payload: str | None = None       # merchant-presented: what the screen renders as a QR
    expires_at: float | None = None     # merchant-presented: epoch seconds


class PaymentUnknown(AgentError):
    """No usable answer (timeout, reset, 5xx): the payment may or may not have happened; query its status."""


class PaymentAdapter(Protocol):
    """What a payment service must offer the lane. Every call is idempotent by `payment_id`."""

    name: str
    capabilities: Capabilities

    async def pay(self, request: PaymentRequest) -> PaymentResult:
        """Charge a scanned wallet code, or create the dynamic QR (status CREATED) when `user_code` is None."""
        ...

    async def status(self, payment_id: str) -> PaymentResult: ...
    async def cancel(self, payment_id: str) -> PaymentResult: ...
    async def refund(self, payment_id: str, refund_id: str, amount: int) -> PaymentResult: ...
