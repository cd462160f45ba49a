"""Every key of the catalog's offline policy holds while the catalog is stale, each with a test that fails when
the key is ignored (docs/catalog.md "Offline policy"; the two keys on labels' dates hold at every scan, stale or
not). Through the real pipeline, session, catalog and lane.db.

Each test is named `test_<key>_...` after the key it covers; the last test lists the policy's fields and finds
such a test for each one, so a key added without a test fails here.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from agent.catalog.db import CatalogDb
from agent.catalog.load import load_snapshot
from agent.catalog.records import OfflinePolicy
from agent.session.rules import action_rules
from simulators.cloud.catalog_data import write_lines
from simulators.cloud.store_catalog import BATTERIES, COUPON_100, COUPON_TEA, MEMBER, TEA, records
from simulators.cloud.tokens import TokenIssuer
from simulators.doubles.clock import FakeClock
from simulators.fixtures.session import SessionLane

STALE_AFTER = 2 * 86400          # no word from the cloud for two days: past [catalog] max_age_s (one day)
Open = Callable[..., Awaitable[tuple[SessionLane, FakeClock]]]


@pytest.fixture
async def policy_lane(tmp_path: Path, token_issuer: TokenIssuer) -> AsyncIterator[Open]:
    """Open a lane on a fake clock whose catalog is the store's with these policy keys over the store's own."""
    lanes: list[SessionLane] = []

    async def open_lane(**policy: Any) -> tuple[SessionLane, FakeClock]:
        state = tmp_path / f"state{len(lanes)}"
        state.mkdir()
        lines = [line for line in records() if line.get("kind") != "policy" or line["key"] not in policy]
        lines += [{"kind": "policy", "key": key, "value": value, "version": 1} for key, value in policy.items()]
        clock = FakeClock(start_wall=time.time())
        catalog = CatalogDb.open(state, clock=clock)
        load_snapshot(catalog, write_lines(state.parent / f"store{len(lanes)}.jsonl", lines, version=1))
        catalog.close()
        lane = SessionLane(state, token_issuer, clock=clock)
        lanes.append(lane)
        await lane.open()
        return lane, clock

    yield open_lane
    for lane in lanes:
        await lane.stop()


async def member_basket(lane: SessionLane, clock: FakeClock, *codes: str) -> None:
    await lane.scan(lane.issuer.member(MEMBER, now=clock.time()), "qr")
    for code in codes:
        await lane.scan(code)


async def test_member_prices_false_takes_member_prices_away_while_stale(policy_lane: Open) -> None:
    lane, clock = await policy_lane(member_prices=False)
    await member_basket(lane, clock, TEA)
    assert lane.view["totals"]["total"] == 140, "fresh catalog: the member price"
    clock.advance(STALE_AFTER)
    assert lane.view["totals"]["total"] == 150, "stale catalog, member_prices false: the regular price"
    assert lane.catalog is not None
    load_snapshot(lane.catalog, write_lines(lane.state_dir.parent / "again.jsonl", records(2), version=2))
    clock.advance(1)                                             # the lookup is kept for the rest of a second
    assert lane.view["totals"]["total"] == 140, "the cloud confirmed the catalog again: the member price is back"
    allowed, allowed_clock = await policy_lane(member_prices=True)
    allowed_clock.advance(STALE_AFTER)
    await member_basket(allowed, allowed_clock, TEA)
    assert allowed.view["totals"]["total"] == 140


async def test_max_sale_total_refuses_the_item_that_would_pass_it_and_changes_nothing(policy_lane: Open) -> None:
    lane, clock = await policy_lane(max_sale_total=600)
    clock.advance(STALE_AFTER)
    await lane.scan(BATTERIES)                                   # 498
    before = lane.view
    refused = await lane.scan(TEA)                               # 648 > 600
    assert refused is not None and refused.refused == "offline_sale_cap"
    after = lane.view
    assert after["lines"] == before["lines"] and after["totals"] == before["totals"]
    assert "600" in after["prompts"][0]["message"] and "offline" in after["prompts"][0]["message"]
    [*_, scan] = lane.events("omo.scan/1")
    assert (scan["outcome"], scan["reason"]) == ("rejected", "offline_sale_cap")


async def test_max_sale_total_refuses_payment_of_a_basket_over_it_while_stale(policy_lane: Open) -> None:
    lane, clock = await policy_lane(max_sale_total=600)
    await lane.scan(BATTERIES)
    await lane.scan(TEA)                                         # 648, taken while the catalog was fresh
    clock.advance(STALE_AFTER)
    assert lane.controller is not None
    refused = await lane.checkout.pay("simulated")
    assert refused.refused == "offline_sale_cap" and "600" in lane.view["prompts"][0]["message"]
    assert lane.view["state"] == "scanning" and lane.intents() == [] and lane.events("omo.sale/1") == []
    tea = lane.view["lines"][1]["line_id"]
    voided = await lane.controller.apply(lambda s: action_rules.void(s, tea, lane.settings, clock.time()))
    assert voided.change.ok and lane.view["totals"]["total"] == 498, "taking items off is never refused"
    paid = await lane.checkout.pay("simulated")
    assert paid.ok and lane.view["state"] == "paid"


@pytest.mark.parametrize(("coupon", "codes", "total"), [
    (COUPON_TEA, [TEA] * 5, 700 - 50),           # 20 % of 5 x 140 = 140, capped at 50 (a percent coupon)
    (COUPON_100, [BATTERIES, TEA], 638 - 50),    # 100 off, capped at 50 (an amount coupon)
])
async def test_max_coupon_value_caps_percent_and_amount_coupons(policy_lane: Open, coupon: str, codes: list[str],
                                                                total: int) -> None:
    lane, clock = await policy_lane(max_coupon_value=50, single_use_coupons=True)
    clock.advance(STALE_AFTER)
    await member_basket(lane, clock, *codes)
    added = await lane.scan(lane.issuer.coupon(coupon, sub=MEMBER, now=clock.time()), "qr")
    assert added is not None and added.ok
    assert lane.view["totals"]["total"] == total


async def test_max_coupon_value_holds_a_coupon_taken_before_the_catalog_went_stale(policy_lane: Open) -> None:
    lane, clock = await policy_lane(max_coupon_value=50)
    await member_basket(lane, clock, *[TEA] * 5)
    await lane.scan(lane.issuer.coupon(COUPON_TEA, sub=MEMBER, now=clock.time()), "qr")
    assert lane.view["totals"]["total"] == 700 - 140, "fresh: 20 % of 700"
    clock.advance(STALE_AFTER)
    assert lane.view["totals"]["total"] == 700 - 50, "stale: capped"


async def test_points_redemption_false_refuses_points_and_ignores_a_redemption_made_before(
        policy_lane: Open) -> None:
    lane, clock = await policy_lane(points_redemption=False)
    assert lane.controller is not None and lane.pipeline is not None
    await member_basket(lane, clock, BATTERIES)
    controller, pipeline = lane.controller, lane.pipeline

    async def redeem(points: int) -> Any:      # what POST /v1/session/points does
        return await controller.apply(lambda s: action_rules.redeem_points(
            s, points, pipeline.points_redemption_allowed(), controller.settings, clock.time()))

    assert (await redeem(100)).change.ok and lane.view["totals"]["amount_due"] == 398
    clock.advance(STALE_AFTER)
    assert lane.view["totals"]["amount_due"] == 498, "a stale balance is not spent"
    assert (await redeem(50)).change.refused == "points_offline"
    allowed, allowed_clock = await policy_lane(points_redemption=True)
    allowed_clock.advance(STALE_AFTER)
    await member_basket(allowed, allowed_clock, BATTERIES)
    assert allowed.pipeline is not None and allowed.pipeline.points_redemption_allowed()


@pytest.mark.parametrize(("allowed", "coupon", "outcome"), [
    (False, COUPON_100, "coupon_offline"),      # max_uses 1: a use at another lane cannot be seen
    (True, COUPON_100, None),
    (False, COUPON_TEA, None),                  # no single use to lose: taken while stale whatever the key says
])
async def test_single_use_coupons_decides_whether_single_use_coupons_are_taken_while_stale(
        policy_lane: Open, allowed: bool, coupon: str, outcome: str | None) -> None:
    lane, clock = await policy_lane(single_use_coupons=allowed)
    clock.advance(STALE_AFTER)
    await member_basket(lane, clock, BATTERIES, TEA)
    change = await lane.scan(lane.issuer.coupon(coupon, sub=MEMBER, now=clock.time()), "qr")
    assert change is not None and change.refused == outcome


@pytest.mark.parametrize(("kinds", "outcome"), [(["card", "cash"], "payment_offline"),
                                                (["card", "cash", "simulated"], None)])
async def test_payment_kinds_decides_how_a_shopper_may_pay_while_stale(policy_lane: Open, kinds: list[str],
                                                                       outcome: str | None) -> None:
    lane, clock = await policy_lane(payment_kinds=kinds)
    clock.advance(STALE_AFTER)
    await lane.scan(TEA)
    assert lane.controller is not None
    change = await lane.checkout.pay("simulated")
    assert change.refused == outcome
    assert (lane.intents() == []) is (outcome is not None), "a refused payment sends and records nothing"


PAST = "200101"                 # a GS1 date (YYMMDD) long past: 2020-01-01


@pytest.mark.parametrize(("value", "outcome", "reason", "lines"), [
    ("attendant", "attendant", "expired", 1), ("refuse", "rejected", "expired", 0),
    ("accept", "accepted", "expired_clock_untrusted", 1),
])
async def test_expiry_when_clock_untrusted_decides_a_past_expiry_only_on_an_untrusted_clock(
        policy_lane: Open, value: str, outcome: str, reason: str, lines: int) -> None:
    lane, _ = await policy_lane(expiry_when_clock_untrusted=value)
    assert lane.pipeline is not None
    lane.pipeline.clock_trusted = lambda: False
    await lane.scan(f"010{TEA}17{PAST}", "gs1-128")
    [scan] = lane.events("omo.scan/1")
    assert (scan["outcome"], scan["reason"], scan["expiry"]) == (outcome, reason, "2020-01-01")
    assert len(lane.view["lines"]) == lines
    assert [i["reason"] for i in lane.view["interventions"]] == (["expired_item"] if value == "attendant" else [])
    trusted, _ = await policy_lane(expiry_when_clock_untrusted=value)
    await trusted.scan(f"010{TEA}17{PAST}", "gs1-128")
    [scan] = trusted.events("omo.scan/1")
    assert (scan["outcome"], scan["reason"]) == ("rejected", "expired") and trusted.view["lines"] == []


@pytest.mark.parametrize(("refuse", "outcome"), [(True, "rejected"), (False, "accepted")])
async def test_refuse_past_best_before_refuses_a_past_best_before_date(policy_lane: Open, refuse: bool,
                                                                       outcome: str) -> None:
    lane, _ = await policy_lane(refuse_past_best_before=refuse)
    await lane.scan(f"010{TEA}15{PAST}", "gs1-128")
    [scan] = lane.events("omo.scan/1")
    assert scan["outcome"] == outcome and len(lane.view["lines"]) == (0 if refuse else 1)
    if refuse:
        assert scan["reason"] == "past_best_before" and lane.view["prompts"][0]["code"] == "past_best_before"


def test_every_offline_policy_key_has_a_test_that_fails_when_it_is_ignored() -> None:
    keys = {f.name for f in fields(OfflinePolicy)} - {"version"}
    tests = [name for name in vars(sys.modules[__name__]) if name.startswith("test_")]
    missing = sorted(key for key in keys if not any(name.startswith(f"test_{key}_") for name in tests))
    assert keys and not missing, f"offline policy keys without a test here: {missing}"
