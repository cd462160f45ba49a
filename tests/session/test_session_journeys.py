"""Shoppers' visits through the real pipeline, session and lane.db (in process, the store's catalog loaded).

Money in these tests is worked out by hand from the rules in docs/session.md, not read back from the engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from agent.session.rules.machine import SessionState
from agent.session.rules.receipt import code128_svg
from simulators.cloud.store_catalog import (
    BATTERIES,
    BEEF,
    BEER,
    COUPON_100,
    COUPON_TEA,
    MEMBER,
    MEMBER_NO_CONSENT,
    NOT_IN_CATALOG,
    ONIGIRI,
    SNACK,
    TEA,
    beef_label,
    deli_label,
)
from simulators.doubles.waiting import wait_until
from simulators.fixtures.secrets import sweep_secrets
from simulators.fixtures.session import SessionLane

ROOT = Path(__file__).resolve().parents[2]
ASYNCAPI: dict[str, Any] = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())
SCHEMA_OF = {"omo.scan/1": "Scan", "omo.sale/1": "Sale", "omo.session/1": "Session", "omo.interest/1": "Interest",
             "omo.payment/1": "Payment", "omo.attendant/1": "Attendant"}


@pytest.fixture(autouse=True)
def no_secret_is_written_down(request: pytest.FixtureRequest) -> None:
    """Every journey here ends with the card-data sweep: lane.db, its WAL, the log, the outbox, the screen."""
    sweep_secrets(request)


def assert_contract(payloads: list[dict[str, Any]]) -> None:
    for payload in payloads:
        schema = {"$ref": f"#/components/schemas/{SCHEMA_OF[payload['schema']]}",
                  "components": ASYNCAPI["components"]}
        jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(payload)


def session_events(lane: SessionLane) -> list[str]:
    return [e["event"] for e in lane.events("omo.session/1")]


async def test_a_scan_in_idle_starts_a_session_and_the_same_item_again_adds_quantity(
        session_lane: SessionLane) -> None:
    await session_lane.scan(TEA)
    await session_lane.scan(TEA)
    view = session_lane.view
    assert view["state"] == "scanning"
    assert [(line["gtin"], line["quantity"]) for line in view["lines"]] == [("0" + TEA, 2)]
    assert view["totals"]["total"] == 300
    assert session_events(session_lane) == ["started"]
    scans = session_lane.events("omo.scan/1")
    assert len(scans) == 2 and {s["session_id"] for s in scans} == {view["session_id"]}


async def test_member_prices_apply_to_lines_already_in_the_basket(session_lane: SessionLane) -> None:
    await session_lane.scan(TEA)
    assert session_lane.view["totals"]["total"] == 150
    await session_lane.scan(session_lane.issuer.member(MEMBER), "qr")
    view = session_lane.view
    assert view["member"]["member_id"] == MEMBER and view["totals"]["total"] == 140
    [discount] = view["discounts"]
    assert discount["kind"] == "member_price" and discount["refers_to"] == [{"line_id": "L1", "amount": 10}]
    assert session_events(session_lane) == ["started", "member_identified"]


async def test_a_bundle_applies_once_per_full_set(session_lane: SessionLane) -> None:
    for _ in range(5):
        await session_lane.scan(ONIGIRI)
    assert session_lane.view["totals"]["total"] == 2 * 300 + 160


async def test_weighed_and_price_labelled_items_are_lines_of_their_own(session_lane: SessionLane) -> None:
    await session_lane.scan(beef_label(450), "gs1-128")
    await session_lane.scan(deli_label(498))
    await session_lane.scan(deli_label(498))
    lines = session_lane.view["lines"]
    assert [(line["fixed_amount"], line["quantity"]) for line in lines] == [(1791, 1), (498, 1), (498, 1)]
    assert session_lane.view["totals"]["total"] == 1791 + 498 + 498


@pytest.mark.parametrize(("weight_ai", "amount"), [
    ("3104001235", 491),     # 0.1235 kg: 398 x 123.5 / 100 = 491.53 -> 491 (not 124 g -> 493)
    ("3202000100", 1805),    # 1.00 lb = 453.59237 g: 398 x 4.5359237 = 1805.30 -> 1805 (not 454 g -> 1806)
    ("3103000450", 1791),    # 450 g: 1791.0, nothing to round
])
async def test_a_weight_is_priced_exactly_and_the_amount_rounded_down_once(session_lane: SessionLane,
                                                                          weight_ai: str, amount: int) -> None:
    await session_lane.scan(f"01{'0' + BEEF}{weight_ai}", "gs1-128")
    assert [line["fixed_amount"] for line in session_lane.view["lines"]] == [amount]


async def test_a_sale_stopped_item_is_refused_with_the_reason(session_lane: SessionLane) -> None:
    await session_lane.scan(TEA)
    change = await session_lane.scan(SNACK)
    assert change is not None and change.refused == "sale_stop"
    view = session_lane.view
    assert len(view["lines"]) == 1 and view["prompts"][0]["code"] == "sale_stop"
    assert session_lane.events("omo.scan/1")[-1]["outcome"] == "rejected"


async def test_an_unknown_item_calls_an_attendant_who_takes_it_away(session_lane: SessionLane) -> None:
    await session_lane.scan(TEA)
    await session_lane.scan(NOT_IN_CATALOG)
    assert session_lane.view["state"] == "needs_attendant"
    assert [i["reason"] for i in session_lane.view["interventions"]] == ["unknown_item"]
    await session_lane.scan(session_lane.issuer.staff("S-7"), "qr")
    assert session_lane.view["state"] == "scanning" and len(session_lane.view["lines"]) == 1


async def test_an_age_restricted_item_waits_for_staff_and_is_checked_once_per_visit(
        session_lane: SessionLane) -> None:
    await session_lane.scan(BEER)
    assert session_lane.view["state"] == "needs_attendant"
    assert session_lane.view["prompts"][0]["code"] == "attendant_age_restricted"
    refused = await session_lane.scan(TEA)
    assert refused is not None and refused.refused == "needs_attendant"
    await session_lane.scan(session_lane.issuer.staff("S-7"), "qr")
    await session_lane.scan(BEER)
    view = session_lane.view
    assert view["state"] == "scanning" and view["lines"][0]["quantity"] == 2
    resolved = [e for e in session_lane.events("omo.session/1") if e["event"] == "attendant_resolved"]
    assert [(e["staff_id"], e["outcome"], e["reason"]) for e in resolved] == [("S-7", "approved", "age_restricted")]


async def test_a_coupon_needs_its_member_and_its_minimum_spend(session_lane: SessionLane) -> None:
    await session_lane.scan(TEA)
    refused = await session_lane.scan(session_lane.issuer.coupon(COUPON_100, sub=MEMBER), "qr")
    assert refused is not None and refused.refused == "coupon_member_mismatch"
    await session_lane.scan(session_lane.issuer.member(MEMBER), "qr")
    await session_lane.scan(session_lane.issuer.coupon(COUPON_100, sub=MEMBER), "qr")
    view = session_lane.view
    assert view["coupons"] == [{"coupon_id": COUPON_100, "applied": False, "reason": "min_spend_not_met"}]
    assert view["totals"]["total"] == 140
    await session_lane.scan(BATTERIES)
    view = session_lane.view
    assert view["coupons"][0]["applied"] is True
    assert view["totals"]["total"] == 140 + 498 - 100


async def test_another_members_coupon_is_refused(session_lane: SessionLane) -> None:
    await session_lane.scan(TEA)
    await session_lane.scan(session_lane.issuer.member(MEMBER), "qr")
    refused = await session_lane.scan(session_lane.issuer.coupon(COUPON_TEA, sub=MEMBER_NO_CONSENT), "qr")
    assert refused is not None and refused.refused == "coupon_member_mismatch"
    assert session_lane.view["coupons"] == []


async def test_the_whole_visit_is_priced_taxed_and_recorded_once(session_lane: SessionLane) -> None:
    lane, issuer = session_lane, session_lane.issuer
    await lane.scan(issuer.member(MEMBER), "qr")
    await lane.scan(TEA)                                  # 140 member price, 8 %
    await lane.scan(ONIGIRI)
    await lane.scan(ONIGIRI)                              # 2 for 300, 8 %
    await lane.scan(beef_label(450), "gs1-128")           # 398 per 100 g x 450 g = 1791, 8 %
    await lane.scan(BEER)                                 # 298, 10 %, age check
    await lane.scan(issuer.staff("S-7"), "qr")
    coupon = issuer.coupon(COUPON_100, sub=MEMBER)
    await lane.scan(coupon, "qr")                         # 100 off, spread over the lines by their amounts
    assert lane.controller is not None
    await lane.checkout.pay("simulated")
    view = lane.view
    assert view["state"] == "paid" and view["sale_id"]
    [sale] = lane.events("omo.sale/1")
    # Nets after the coupon (largest remainder over 140, 300, 1791, 298): 135, 288, 1720, 286.
    rates = {r["rate"]: (r["total"], r["tax"]) for r in sale["tax_breakdown"]}
    assert rates == {"0.08": (2143, 158), "0.10": (286, 26)}     # 2143 x 8/108 = 158.7; 286 x 10/110 = 26
    assert (sale["total"], sale["tax"], sale["subtotal"]) == (2429, 184, 150 + 320 + 1791 + 298)
    assert sale["points"] == 48                                    # 2429 / 100 x 2 (gold), rounded down
    assert sale["coupons"][0]["coupon_id"] == COUPON_100
    assert sale["payment"]["amount"] == 2429 and lane.adapter.charged(sale["payment"]["payment_id"]) == 1
    assert sale["receipt"]["registration_number"] == "T9234567890123"
    assert sale["receipt"]["barcode"] == {"symbology": "code128", "data": sale["sale_id"]}
    assert code128_svg(sale["sale_id"]).startswith("<?xml") and "<svg" in code128_svg(sale["sale_id"])
    assert [i["name"].endswith("※") for i in sale["receipt"]["items"]] == [True, True, True, False]
    assert session_events(lane) == ["started", "member_identified", "attendant_requested", "attendant_resolved",
                                    "paid"]
    assert_contract(lane.events())


async def test_a_used_coupon_is_refused_again_also_after_a_restart(session_lane: SessionLane) -> None:
    lane, issuer = session_lane, session_lane.issuer
    coupon = issuer.coupon(COUPON_100, sub=MEMBER)
    await lane.scan(issuer.member(MEMBER), "qr")
    await lane.scan(BATTERIES)
    await lane.scan(coupon, "qr")
    assert lane.controller is not None
    await lane.checkout.pay("simulated")
    await lane.restart()
    await lane.scan(issuer.member(MEMBER), "qr")
    await lane.scan(BATTERIES)
    await lane.scan(coupon, "qr")
    assert lane.view["coupons"] == [] and lane.view["totals"]["total"] == 498
    assert lane.events("omo.scan/1")[-1]["outcome"] == "rejected"


async def test_a_basket_comes_back_exactly_after_a_restart(session_lane: SessionLane) -> None:
    lane, issuer = session_lane, session_lane.issuer
    await lane.scan(issuer.member(MEMBER), "qr")
    await lane.scan(TEA)
    await lane.scan(BATTERIES)
    await lane.scan(issuer.coupon(COUPON_100, sub=MEMBER), "qr")
    await lane.scan(BEER)                                       # waiting for staff, with a prompt
    before = lane.view
    await lane.restart()
    assert lane.view == before
    assert lane.view["state"] == "needs_attendant" and lane.view["prompts"][0]["code"] == "attendant_age_restricted"


async def test_a_decline_then_a_success_pays_once(session_lane: SessionLane) -> None:
    lane = session_lane
    assert lane.controller is not None
    await lane.scan(TEA)
    lane.adapter.outcome = "decline"
    declined = await lane.checkout.pay("simulated")
    assert declined.session.state is SessionState.SCANNING
    assert lane.view["prompts"][0]["code"] == "payment_declined"
    lane.adapter.outcome = "approve"
    await lane.checkout.pay("simulated")
    assert lane.view["state"] == "paid"
    assert len(lane.events("omo.sale/1")) == 1
    assert sum(lane.adapter.charged(pid) for pid in lane.adapter.ledger) == 1


async def test_too_many_declines_call_an_attendant(session_lane: SessionLane) -> None:
    lane = session_lane
    assert lane.controller is not None
    await lane.with_settings(max_failed_payments=2)
    await lane.scan(TEA)
    lane.adapter.outcome = "decline"
    await lane.checkout.pay("simulated")
    await lane.checkout.pay("simulated")
    assert lane.view["state"] == "needs_attendant"
    assert [i["reason"] for i in lane.view["interventions"]] == ["payment_failures"]


async def test_a_lost_payment_reply_is_asked_about_and_the_sale_recorded_once(session_lane: SessionLane) -> None:
    lane = session_lane
    assert lane.controller is not None
    await lane.scan(TEA)
    lane.adapter.outcome = "timeout"              # the service charges, then its reply is lost
    await lane.checkout.pay("simulated")
    assert lane.view["state"] == "paid"
    [sale] = lane.events("omo.sale/1")
    assert lane.adapter.charged(sale["payment"]["payment_id"]) == 1 and len(lane.adapter.ledger) == 1


async def test_voided_lines_are_interest_with_the_member_only_when_they_consented(
        session_lane: SessionLane) -> None:
    lane = session_lane
    assert lane.controller is not None
    await lane.scan(lane.issuer.member(MEMBER), "qr")
    await lane.scan(TEA)
    from agent.session.rules import action_rules

    controller = lane.controller
    await controller.apply(lambda s: action_rules.void(s, "L1", controller.settings, controller.clock.time()))
    [interest] = lane.events("omo.interest/1")
    assert interest["member_id"] == MEMBER and interest["reason"] == "voided"
    assert interest["items"] == [{"gtin": "0" + TEA, "quantity": 1}]
    await controller.apply(lambda s: action_rules.cancel(s, controller.settings, controller.clock.time()))
    await lane.scan(lane.issuer.member(MEMBER_NO_CONSENT), "qr")
    await lane.scan(ONIGIRI)
    await controller.apply(lambda s: action_rules.void(s, "L1", controller.settings, controller.clock.time()))
    last = lane.events("omo.interest/1")[-1]
    assert "member_id" not in last and last["pseudonym"].startswith("p-")
    assert_contract(lane.events())


async def test_a_suspended_basket_comes_back_by_scanning_its_code_once(session_lane: SessionLane) -> None:
    lane = session_lane
    assert lane.controller is not None
    from agent.session.rules import action_rules

    controller = lane.controller
    await lane.scan(lane.issuer.member(MEMBER), "qr")
    await lane.scan(TEA)
    await lane.scan(ONIGIRI)
    await controller.apply(lambda s: action_rules.suspend(s, controller.settings, controller.clock.time()))
    code = lane.view["suspend_code"]
    assert lane.view["state"] == "idle" and code.startswith("SUSP-")
    await lane.restart()
    await lane.scan(code, "code128")
    view = lane.view
    assert view["state"] == "scanning" and view["member"]["member_id"] == MEMBER
    assert [line["gtin"] for line in view["lines"]] == ["0" + TEA, "0" + ONIGIRI] and view["totals"]["total"] == 300
    assert session_events(lane)[-3:] == ["suspended", "started", "resumed"]
    second = await lane.scan(code, "code128")
    assert second is not None and second.refused == "nothing_to_resume", "a kept basket comes back once"
    assert_contract(lane.events())


async def test_an_untouched_basket_is_abandoned_by_the_fake_clock_never_while_paying(
        session_lane: SessionLane) -> None:
    import asyncio

    lane = session_lane
    clock = await lane.on_fake_clock()
    assert lane.controller is not None
    await lane.scan(lane.issuer.member(MEMBER), "qr")
    await lane.scan(TEA)
    from agent.health import ComponentHealth

    timer = asyncio.create_task(lane.controller.run(ComponentHealth("session")))
    try:
        await wait_until(lambda: clock.sleeping > 0, 5, 0)   # the timer parks on the fake clock
        clock.advance(lane.settings.inactivity_timeout_s - 1)
        for _ in range(20):
            await asyncio.sleep(0)
        assert lane.view["state"] == "scanning"
        clock.advance(5)
        await wait_until(lambda: lane.view["state"] == "abandoned", 5, 0)   # committed on the writer thread
    finally:
        timer.cancel()
    [interest] = lane.events("omo.interest/1")
    assert interest["reason"] == "abandoned" and interest["member_id"] == MEMBER
    assert session_events(lane)[-1] == "abandoned"


async def test_a_lane_restarted_while_paying_settles_the_payment_before_anything_else(
        session_lane: SessionLane) -> None:
    lane = session_lane
    assert lane.controller is not None
    await lane.scan(TEA)
    lane.adapter.outcome = "timeout"
    lane.adapter.latency_s = 0
    from agent.session.rules import action_rules

    controller = lane.controller
    change = action_rules.request_payment(controller.session, "simulated", 150, "pay-1", controller.settings, 1.0,
                                     controller.clock.time())
    await controller.apply(lambda s: change)
    from agent.payment.adapter import PaymentRequest, PaymentUnknown

    try:                                 # the service charges; the lane dies before the reply
        await lane.adapter.pay(PaymentRequest("pay-1", 150, "JPY", "store-001", "lane-01"))
    except PaymentUnknown:
        pass
    await lane.restart(keep_payments=True)
    assert lane.view["state"] == "paid"
    [sale] = lane.events("omo.sale/1")
    assert sale["payment"]["payment_id"] == "pay-1" and sale["total"] == 150
    assert lane.adapter.charged("pay-1") == 1


async def test_a_lane_restarted_while_paying_releases_a_basket_that_was_never_charged(
        session_lane: SessionLane) -> None:
    lane = session_lane
    assert lane.controller is not None
    await lane.scan(TEA)
    from agent.session.rules import action_rules

    controller = lane.controller
    change = action_rules.request_payment(controller.session, "simulated", 150, "pay-2", controller.settings, 1.0,
                                     controller.clock.time())
    await controller.apply(lambda s: change)
    await lane.restart()                 # the request never reached the service
    assert lane.view["state"] == "scanning" and lane.view["lines"][0]["quantity"] == 1
    assert lane.events("omo.sale/1") == []


async def test_a_coupon_meant_for_tomorrow_does_not_work_today_on_a_lane_without_ntp(
        session_lane: SessionLane) -> None:
    lane = session_lane
    assert lane.pipeline is not None
    lane.pipeline.clock_trusted = lambda: False                    # the kernel says the clock is not synchronised
    await lane.scan(lane.issuer.member(MEMBER), "qr")
    await lane.scan(BATTERIES)
    await lane.scan(TEA)                                           # 498 + 140 (member price) = 638
    now = lane.clock.time()
    tomorrow = lane.issuer.coupon(COUPON_100, sub=MEMBER, nbf=now + 86400, ttl_s=2 * 86400)
    refused = await lane.scan(tomorrow, "qr")
    assert refused is not None and refused.refused == "invalid_not_yet_valid"
    assert lane.view["coupons"] == [] and lane.view["totals"]["total"] == 638
    today = lane.issuer.coupon(COUPON_100, sub=MEMBER, nbf=now, ttl_s=2 * 86400)
    added = await lane.scan(today, "qr")
    assert added is not None and added.ok and lane.view["totals"]["total"] == 538


async def test_with_a_stale_catalog_the_offline_policy_refuses_coupons_and_the_sale_goes_on(
        session_lane: SessionLane) -> None:
    lane = session_lane
    clock = await lane.on_fake_clock()
    clock.advance(2 * 86400)                       # no word from the cloud for two days: the catalog is stale
    ttl = 10 * 86400
    await lane.scan(lane.issuer.member(MEMBER, ttl_s=ttl), "qr")
    await lane.scan(BATTERIES)
    refused = await lane.scan(lane.issuer.coupon(COUPON_100, sub=MEMBER, ttl_s=ttl), "qr")
    assert refused is not None and refused.refused == "coupon_offline"
    assert "Your basket is kept" in lane.view["prompts"][0]["message"]
    assert lane.controller is not None
    await lane.checkout.pay("simulated")
    [sale] = lane.events("omo.sale/1")
    assert sale["total"] == 498 and sale["coupons"] == []


async def test_an_adapter_that_fails_oddly_after_charging_is_asked_and_the_sale_recorded_once(
        session_lane: SessionLane) -> None:
    from agent.payment.adapter import PaymentRequest, PaymentResult
    from agent.payment.simulated import SimulatedAdapter

    class Flaky(SimulatedAdapter):
        async def pay(self, request: PaymentRequest) -> PaymentResult:
            await super().pay(request)                       # charged ...
            raise RuntimeError("the reply could not be parsed")  # ... and then the reply is garbage

    lane = session_lane
    assert lane.controller is not None
    lane.use_adapter(Flaky())
    await lane.scan(TEA)
    await lane.checkout.pay("simulated")
    [sale] = lane.events("omo.sale/1")
    assert lane.view["state"] == "paid" and lane.adapter.charged(sale["payment"]["payment_id"]) == 1


async def test_one_scan_wakes_the_outbox_relay_once_with_the_most_urgent_class_it_committed(
        session_lane: SessionLane) -> None:
    """A scan's commit writes its scan row and the visit's events in one transaction: one wake says so, with
    the class that drains first (a second wake per scan only made the relay re-read its cursor)."""
    assert session_lane.pipeline is not None and session_lane.controller is not None
    wakes: list[int] = []
    session_lane.pipeline.on_recorded = session_lane.controller.on_recorded = wakes.append
    await session_lane.scan(TEA)                  # starts the visit: a session event (class 2) and the scan (3)
    assert wakes == [2]
    session_lane.pipeline.set_open(False)         # a closed lane records the scan alone: only the scans class
    await session_lane.scan(TEA)
    assert wakes == [2, 3]
