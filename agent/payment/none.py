"""The `none` payment adapter: a lane with no payment service configured takes no payment, and says so.

Why it is the default rather than the simulator: a lane installed without a `[payment]` section must not
"sell" with no money moving. Every way to pay is refused on the screen (its capabilities are all false), and
the lane's health names the key to set.
"""

from __future__ import annotations

from agent.payment.adapter import Capabilities, PaymentRef, PaymentRequest, PaymentResult, PaymentStatus
from agent.payment.settings import PaymentSection


class NoPayments:
    name = "none"
    capabilities = Capabilities(customer_presented=False, merchant_presented=False, offline=False)

    async def pay(self, request: PaymentRequest) -> PaymentResult:
        return PaymentResult(request.payment_id, PaymentStatus.FAILED,
                             reason="This register cannot take payments yet. Please use another register.")

    async def status(self, ref: PaymentRef) -> PaymentResult:
        return PaymentResult(ref.payment_id, PaymentStatus.NOT_FOUND)

    async def withdraw(self, ref: PaymentRef) -> PaymentResult:
        return await self.status(ref)

    async def cancel(self, ref: PaymentRef) -> PaymentResult:
        return await self.status(ref)

    async def refund(self, ref: PaymentRef, refund_id: str, amount: int) -> PaymentResult:
        return await self.status(ref)


def build(section: PaymentSection) -> NoPayments:
    return NoPayments()
