"""Payment and reversal rules an adversarial review broke, through the real `paypay` adapter and the
payment-service simulator on 127.0.0.1: one event per reversal, the cancel window, a payment made as the
shopper cancels, a service that refuses connections, and a basket with nothing to pay.
"""

from __future__ import annotations

import asyncio

import pytest

from agent.session.refunds import reverse_sale
from agent.session.rules import action_rules
from simulators.cloud.payment_service import PaymentService
from simulators.cloud.store_catalog import MEMBER, TEA, deli_label
from simulators.doubles.waiting import wait_until
from simulators.fixtures.secrets import sweep_secrets
from simulators.fixtures.session import SessionLane

WALLET = "281234567890123456"
Lane = tuple[SessionLane, PaymentService]


@pytest.fixture(autouse=True)
def no_secret_is_written_down(request: pytest.FixtureRequest) -> None:
    sweep_secrets(request, {"wallet code": WALLET})


async def paid_sale(lane: SessionLane) -> str:
    await lane.scan(TEA)
    await lane.scan(WALLET, symbology="qr")
    await lane.settled()
    assert lane.view["state"] == "paid"
    return str(lane.view["sale_id"])


def reversal_events(lane: SessionLane) -> list[dict[str, object]]:
    return [e for e in lane.events("omo.payment/1") if e["state"] in ("voided", "refunded")]


async def test_two_staff_voids_of_one_sale_at_the_same_moment_void_it_once_with_one_event(paypay_lane: Lane) -> None:
    lane, service = paypay_lane
    assert lane.controller is not None
    sale_id = await paid_sale(lane)
    service.latency_s = 0.3                       # both requests are in flight together
    first, second = await asyncio.gather(reverse_sale(lane.controller, sale_id, "S-1", "damaged item"),
                                         reverse_sale(lane.controller, sale_id, "S-2", "damaged item"))
    [event] = reversal_events(lane)
    assert event["state"] == "voided" and event["staff_id"] == "S-1"
    assert (first.state, second.state) == ("done", "done")
    assert first.detail.startswith("voided") and second.detail.startswith("already"), second.detail
    assert service.requests.count(("DELETE", f"/v2/payments/{lane.intents()[0]['payment_id']}")) == 1


async def test_a_staff_void_retried_after_the_cancel_window_is_sent_as_a_refund(paypay_lane: Lane) -> None:
    lane, service = paypay_lane
    clock = await lane.on_fake_clock()
    assert lane.controller is not None
    sale_id = await paid_sale(lane)
    service.fail_5xx = 1                          # the cancel is not answered: staff must ask again
    first = await reverse_sale(lane.controller, sale_id, "S-1", "damaged item")
    assert (first.kind, first.state) == ("cancel", "unknown")
    clock.advance(2 * 86400)                      # staff ask again two days later: only a refund gives money back
    again = await reverse_sale(lane.controller, sale_id, "S-1", "damaged item")
    assert (again.kind, again.state) == ("refund", "done")
    [event] = reversal_events(lane)
    assert event["state"] == "refunded" and event["refund_id"] == first.refund_id
    [charge] = service.ledger.values()
    assert charge.status == "REFUNDED" and charge.refunds == {first.refund_id: 150}


async def test_a_qr_paid_just_before_the_shopper_cancels_stays_a_sale(paypay_lane: Lane) -> None:
    lane, service = paypay_lane
    assert lane.controller is not None
    await lane.with_payment(poll_interval_s=30)         # no poll sees the payment: only the cancel's final status query
    await lane.scan(TEA)
    await lane.checkout.pay("wallet_qr")
    [intent] = lane.intents()
    assert service.shopper_pays(intent["code_id"]) == "COMPLETED"
    await lane.checkout.cancel_by_shopper()
    await lane.settled()
    [intent] = lane.intents()
    assert lane.view["state"] == "paid" and intent["state"] == "succeeded"
    assert service.kept(intent["payment_id"]) and len(lane.events("omo.sale/1")) == 1
    assert reversal_events(lane) == []


async def test_a_payment_service_refusing_connections_releases_the_basket_at_once(paypay_lane: Lane) -> None:
    lane, service = paypay_lane
    await lane.scan(TEA)
    await service.stop()                          # nothing listens on its port: every connect is refused
    await lane.scan(WALLET, symbology="qr")
    await wait_until(lambda: lane.view["state"] == "scanning", 5)
    await lane.settled()
    [intent] = lane.intents()
    assert (intent["state"], intent["reversal"]) == ("cancelled", "unreachable")
    assert lane.view["prompts"][0]["code"] == "payment_unreachable"
    assert len(lane.view["lines"]) == 1 and lane.events("omo.sale/1") == []


async def test_a_basket_with_nothing_to_pay_is_a_sale_without_asking_the_wallet(paypay_lane: Lane) -> None:
    lane, service = paypay_lane
    controller = lane.controller
    assert controller is not None
    await lane.scan(lane.issuer.member(MEMBER), "qr")
    await lane.scan(TEA)                                            # 140 at the member price
    await controller.apply(lambda s: action_rules.redeem_points(s, 140, True, controller.settings,
                                                           controller.clock.time()))
    assert lane.view["totals"]["amount_due"] == 0
    await lane.checkout.pay("wallet_qr")
    await lane.settled()
    assert lane.view["state"] == "paid" and lane.view["prompts"][0]["code"] == "paid"
    [sale] = lane.events("omo.sale/1")
    assert (sale["total"], sale["points_redeemed"], sale["amount_due"]) == (140, 140, 0)
    assert sale["payment"]["method"] == "no_charge" and sale["payment"]["amount"] == 0
    assert service.requests == [] and lane.intents() == [], "no payment service was asked for 0"
    voided = await reverse_sale(controller, sale["sale_id"], "S-1", "wrong basket")
    assert (voided.state, voided.amount) == ("done", 0) and service.requests == []
    [event] = reversal_events(lane)
    assert (event["state"], event["amount"]) == ("voided", 0)


async def test_a_zero_priced_label_paid_by_wallet_code_never_sends_the_code(paypay_lane: Lane) -> None:
    lane, service = paypay_lane
    await lane.scan(deli_label(0))
    assert lane.view["totals"]["amount_due"] == 0
    await lane.scan(WALLET, symbology="qr")
    await lane.settled()
    assert lane.view["state"] == "paid" and service.requests == []
    [sale] = lane.events("omo.sale/1")
    assert sale["payment"]["method"] == "no_charge" and sale["total"] == 0
