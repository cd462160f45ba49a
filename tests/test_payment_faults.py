"""The payment fault campaign, short: every charge has exactly one sale and every sale exactly one charge."""

from __future__ import annotations

from simulators.cloud.payment_service import PaymentService
from simulators.fixtures.session import SessionLane
from simulators.trials.payment import FAULTS, campaign

TRIALS = 28        # two rounds of every fault; bench/soak_payment.py runs hundreds


async def test_under_every_fault_each_charge_has_one_sale_and_each_sale_one_charge(
        paypay_lane: tuple[SessionLane, PaymentService]) -> None:
    lane, service = paypay_lane
    report = await campaign(lane, service, TRIALS, seed=7)
    assert report.problems == []
    assert set(report.faults) == set(FAULTS)
    assert report.sales == report.charges > 0
