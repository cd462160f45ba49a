"""ChosenAdapter: a PaymentAdapter that pays through whichever adapter the test chose last.

A test that changes how the lane pays part-way (a decline, then an approval; PayPay instead of the simulator)
tells this double, which the lane was built with, instead of reaching into the session's objects and swapping
their adapter: the lane's objects keep what their constructors were given.
"""

from __future__ import annotations

from agent.payment.adapter import Capabilities, PaymentAdapter, PaymentRef, PaymentRequest, PaymentResult


class ChosenAdapter:
    """Forwards every call to the adapter given last (`choose`); its name and capabilities are that adapter's."""

    def __init__(self, adapter: PaymentAdapter) -> None:
        self._adapter = adapter

    def choose(self, adapter: PaymentAdapter) -> None:
        """Pay through `adapter` from the next call on (a payment being followed asks it too)."""
        self._adapter = adapter

    @property
    def name(self) -> str:
        return self._adapter.name

    @property
    def capabilities(self) -> Capabilities:
        return self._adapter.capabilities

    async def pay(self, request: PaymentRequest) -> PaymentResult:
        return await self._adapter.pay(request)

    async def status(self, ref: PaymentRef) -> PaymentResult:
        return await self._adapter.status(ref)

    async def withdraw(self, ref: PaymentRef) -> PaymentResult:
        return await self._adapter.withdraw(ref)

    async def cancel(self, ref: PaymentRef) -> PaymentResult:
        return await self._adapter.cancel(ref)

    async def refund(self, ref: PaymentRef, refund_id: str, amount: int) -> PaymentResult:
        return await self._adapter.refund(ref, refund_id, amount)
