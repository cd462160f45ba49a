"""Money rules around the basket that an adversarial review broke: limits, interventions, coupons and points.

Each figure is worked out by hand from docs/session.md; each test names the defect it guards in plain words.
"""

from __future__ import annotations

from agent.catalog.load import load_snapshot
from agent.session.records import visits
from agent.session.refunds import reverse_sale
from agent.session.rules import action_rules
from simulators.cloud.catalog_data import write_lines
from simulators.cloud.store_catalog import BATTERIES, BEEF, COUPON_100, MEMBER, TEA, records
from simulators.fixtures.session import SessionLane

EXPIRED = "17200101"          # GS1 AI 17: best before 2020-01-01, long past


def expired(gtin13: str) -> str:
    """A GS1 element string for `gtin13` carrying an expiry date long past (refused on a trusted clock; on an
    untrusted one the default policy has an attendant see it)."""
    return f"010{gtin13}{EXPIRED}"


async def test_a_scan_past_max_quantity_is_refused_and_adds_nothing(session_lane: SessionLane) -> None:
    lane = session_lane
    await lane.with_settings(max_quantity=4)
    refusals = [await lane.scan(TEA) for _ in range(6)]
    assert [c.refused if c is not None else "?" for c in refusals] == [None] * 4 + ["quantity_limit"] * 2
    view = lane.view
    assert [line["quantity"] for line in view["lines"]] == [4] and view["totals"]["total"] == 4 * 150
    assert lane.controller is not None
    await lane.checkout.pay("simulated")
    [sale] = lane.events("omo.sale/1")
    assert sale["total"] == 600 and sale["payment"]["amount"] == 600


async def staff_reject(lane: SessionLane) -> None:
    controller = lane.controller
    assert controller is not None
    await controller.apply(lambda s: action_rules.resolve(s, approved=False, staff_id="S-7",
                                                          settings=controller.settings, now=controller.clock.time()))


async def test_an_expired_unit_never_merges_and_a_reject_removes_only_that_unit(session_lane: SessionLane) -> None:
    lane = session_lane
    assert lane.pipeline is not None
    lane.pipeline.clock_trusted = lambda: False     # a past expiry on an untrusted clock: the policy calls staff
    await lane.scan(TEA)
    await lane.scan(expired(TEA), "gs1-128")
    assert lane.view["state"] == "needs_attendant"
    assert [line["quantity"] for line in lane.view["lines"]] == [1, 1], "the unit under intervention is its own line"
    await staff_reject(lane)
    view = lane.view
    assert view["state"] == "scanning"
    assert [(line["line_id"], line["quantity"]) for line in view["lines"]] == [("L1", 1)]
    assert view["totals"]["total"] == 150, "the good tea stays in the basket"


async def suspend(lane: SessionLane) -> str:
    controller = lane.controller
    assert controller is not None
    await controller.apply(lambda s: action_rules.suspend(s, controller.settings, controller.clock.time()))
    return str(lane.view["suspend_code"])


async def redeem(lane: SessionLane, points: int) -> str | None:
    controller = lane.controller
    assert controller is not None
    committed = await controller.apply(lambda s: action_rules.redeem_points(s, points, True, controller.settings,
                                                                       controller.clock.time()))
    return committed.change.refused


async def member_basket(lane: SessionLane, *gtins: str) -> None:
    await lane.scan(lane.issuer.member(MEMBER), "qr")
    for gtin in gtins:
        await lane.scan(gtin)


async def pay(lane: SessionLane) -> str | None:
    assert lane.controller is not None
    return (await lane.checkout.pay("simulated")).refused


async def test_a_single_use_coupon_kept_in_a_suspended_basket_is_not_used_again_after_resume(
        session_lane: SessionLane) -> None:
    lane = session_lane
    await member_basket(lane, BATTERIES, TEA)                       # 498 + 140 (member) = 638
    await lane.scan(lane.issuer.coupon(COUPON_100, sub=MEMBER), "qr")
    assert lane.view["totals"]["total"] == 538
    code = await suspend(lane)
    await member_basket(lane, BATTERIES, TEA)                       # the same coupon, a fresh app token
    await lane.scan(lane.issuer.coupon(COUPON_100, sub=MEMBER), "qr")
    assert await pay(lane) is None and lane.events("omo.sale/1")[-1]["total"] == 538
    await lane.scan(code, "code128")
    view = lane.view
    assert view["state"] == "scanning" and view["coupons"] == [], "its one use is spent"
    assert "coupon" in view["prompts"][0]["message"]
    assert await pay(lane) is None
    sales = lane.events("omo.sale/1")
    assert [len(s["coupons"]) for s in sales] == [1, 0] and sales[-1]["total"] == 638


async def test_a_coupon_used_up_between_adding_and_paying_is_taken_off_before_any_payment(
        session_lane: SessionLane) -> None:
    lane = session_lane
    assert lane.lane_db is not None
    await member_basket(lane, BATTERIES, TEA)
    await lane.scan(lane.issuer.coupon(COUPON_100, sub=MEMBER), "qr")
    # Another sale of this lane spent the coupon's one use meanwhile (a resumed basket paid first, say).
    await lane.lane_db.write(visits.redeem_coupons, [(COUPON_100, None)], "SALE-ELSEWHERE", 0.0)
    assert await pay(lane) == "coupon_used_up"
    view = lane.view
    assert view["state"] == "scanning" and view["coupons"] == [] and view["totals"]["total"] == 638
    assert lane.events("omo.sale/1") == [] and lane.intents() == [], "no payment was started"
    assert await pay(lane) is None and lane.events("omo.sale/1")[0]["total"] == 638


async def test_redeemed_points_come_off_the_balance_at_the_lane_until_the_cloud_says_otherwise(
        session_lane: SessionLane) -> None:
    lane = session_lane
    await member_basket(lane, BATTERIES, BATTERIES)                 # 996
    assert lane.view["member"]["points_balance"] == 1200
    assert await redeem(lane, 500) is None and await pay(lane) is None
    assert lane.events("omo.sale/1")[-1]["points_redeemed"] == 500
    await lane.restart()
    await member_basket(lane, BATTERIES, BATTERIES)
    assert lane.view["member"]["points_balance"] == 700, "the lane's own ledger takes the 500 off"
    assert await redeem(lane, 1200) == "points_balance"
    assert await redeem(lane, 700) is None and await pay(lane) is None
    assert [s["points_redeemed"] for s in lane.events("omo.sale/1")] == [500, 700]
    await member_basket(lane, TEA)
    assert lane.view["member"]["points_balance"] == 0 and await redeem(lane, 1) == "points_balance"
    await cloud_sends_member_balance(lane, points=300, version=2)   # the cloud's balance after both sales
    await member_basket(lane, TEA)
    assert lane.view["member"]["points_balance"] == 300, "the cloud's newer balance replaces the ledger"


async def test_points_kept_in_a_suspended_basket_are_cut_to_what_is_left_when_it_comes_back(
        session_lane: SessionLane) -> None:
    lane = session_lane
    await member_basket(lane, BATTERIES, BATTERIES)
    assert await redeem(lane, 1000) is None
    code = await suspend(lane)
    await member_basket(lane, BATTERIES, BATTERIES)
    assert await redeem(lane, 900) is None and await pay(lane) is None
    await lane.scan(code, "code128")
    assert lane.view["totals"]["points_redeemed"] == 300 and "points" in lane.view["prompts"][0]["message"]
    assert await pay(lane) is None
    assert [s["points_redeemed"] for s in lane.events("omo.sale/1")] == [900, 300], "never more than 1,200"


async def cloud_sends_member_balance(lane: SessionLane, *, points: int, version: int) -> None:
    """A new catalog version from the cloud in which the member's balance is `points`."""
    lines = [{**line, "points": points} if line.get("id") == MEMBER else line for line in records(version)]
    assert lane.catalog is not None
    load_snapshot(lane.catalog, write_lines(lane.state_dir.parent / f"store-{version}.jsonl", lines,
                                            version=version))


async def test_a_staff_void_gives_the_sales_points_back_to_the_balance(session_lane: SessionLane) -> None:
    lane = session_lane
    assert lane.controller is not None
    await member_basket(lane, BATTERIES, BATTERIES)
    assert await redeem(lane, 500) is None and await pay(lane) is None
    sale_id = lane.events("omo.sale/1")[-1]["sale_id"]
    await member_basket(lane, TEA)
    assert lane.view["member"]["points_balance"] == 700
    answer = await reverse_sale(lane.controller, sale_id, "S-1", "wrong basket")
    assert answer.state == "done"
    await lane.scan(lane.issuer.member(MEMBER), "qr")                # the member shows their code again
    assert lane.view["member"]["points_balance"] == 1200


async def test_a_staff_void_shows_the_points_back_on_the_screen_of_the_members_visit_at_once(
        session_lane: SessionLane) -> None:
    """The member is shopping again when staff void their earlier sale: the screen must not keep the old balance
    (the stateful money model found the screen 100 points short until the member showed their code again)."""
    lane = session_lane
    assert lane.controller is not None
    await member_basket(lane, BATTERIES, BATTERIES)
    assert await redeem(lane, 500) is None and await pay(lane) is None
    sale_id = lane.events("omo.sale/1")[-1]["sale_id"]
    await member_basket(lane, TEA)
    lines_before = lane.view["lines"]
    answer = await reverse_sale(lane.controller, sale_id, "S-1", "wrong basket")
    assert answer.state == "done"
    assert lane.view["member"]["points_balance"] == 1200
    assert lane.view["lines"] == lines_before, "only the balance changes"
    assert await redeem(lane, 1200) is None, "the returned points can be spent in this visit"


async def test_a_weighed_item_scanned_without_its_weight_is_refused_and_starts_no_visit(
        session_lane: SessionLane) -> None:
    lane = session_lane
    refused = await lane.scan(BEEF)
    assert refused is not None and refused.refused == "needs_weight"
    assert lane.view["state"] == "idle" and lane.view["session_id"] is None
    assert lane.events("omo.session/1") == [], "a refused scan changes nothing: no visit was started"
    assert lane.events("omo.scan/1")[-1]["outcome"] == "rejected"
