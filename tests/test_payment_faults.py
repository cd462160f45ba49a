"""The payment fault campaign, short: every charge has exactly one sale and every sale exactly one charge."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from agent.payment.paypay import PayPayAdapter
from simulators.cloud.payment_service import PaymentService
from simulators.fixtures.session import SessionLane
from simulators.payment_campaign import FAULTS, campaign

TRIALS = 28        # bench/soak_payment.py runs hundreds


@pytest.fixture
async def paying_lane(session_lane: SessionLane) -> AsyncIterator[tuple[SessionLane, PaymentService]]:
    service = PaymentService()
    await service.start()
    adapter = PayPayAdapter(service.url, "M-1", "key-1", b"secret-1", timeout_s=2)
    session_lane.adapter = adapter  # type: ignore[assignment]
    assert session_lane.controller is not None
    session_lane.controller.adapter = adapter
    try:
        yield session_lane, service
    finally:
        await adapter.close()
        await service.stop()


async def test_under_every_fault_each_charge_has_one_sale_and_each_sale_one_charge(
        paying_lane: tuple[SessionLane, PaymentService]) -> None:
    lane, service = paying_lane
    report = await campaign(lane, service, TRIALS, seed=7)
    assert report.problems == []
    assert set(report.faults) == set(FAULTS), "the seed must reach every fault"
    assert report.sales == report.charges > 0
