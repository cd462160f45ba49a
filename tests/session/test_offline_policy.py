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
from agent.session.rules.audit_policy import RiskFacts, pick_lines, probability_bp
from simulators.cloud.catalog_data import write_lines
from simulators.cloud.store_catalog import BATTERIES, COUPON_100, COUPON_TEA, MEMBER, ONIGIRI, TEA, records
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


# The random audit's keys (docs/catalog.md, "Random audit"): they hold at every payment, stale or not.

def chance(facts: RiskFacts | None = None, **keys: Any) -> int:
    return probability_bp(OfflinePolicy(**keys), facts or RiskFacts(basket_value=500, items=1, restricted=False))


async def test_audit_base_bp_draws_an_audit_at_payment_through_the_lane(policy_lane: Open) -> None:
    lane, _ = await policy_lane(audit_base_bp=6000)
    lane.audit_draw = 0.5                         # under 60 %: audited
    await lane.scan(TEA)
    paid = await lane.checkout.pay("simulated")
    assert paid.refused == "random_audit" and lane.view["state"] == "needs_attendant"
    plain, _ = await policy_lane()
    plain.audit_draw = 0.5                        # the default policy and audit_rate 0: never audited
    await plain.scan(TEA)
    await plain.checkout.pay("simulated")
    assert plain.view["state"] == "paid"


def test_audit_base_bp_overrides_the_lane_audit_rate_and_zero_leaves_it() -> None:
    facts = RiskFacts(basket_value=0, items=1, restricted=False)
    assert probability_bp(OfflinePolicy(audit_base_bp=300), facts, 0.5) == 300
    assert probability_bp(OfflinePolicy(), facts, 0.05) == 500


def test_audit_value_bp_adds_per_step_of_basket_value() -> None:
    facts = RiskFacts(basket_value=25000, items=1, restricted=False)
    assert chance(facts, audit_value_bp=100) == 200                            # two steps of 10000


def test_audit_value_step_is_the_step_of_basket_value() -> None:
    facts = RiskFacts(basket_value=25000, items=1, restricted=False)
    assert chance(facts, audit_value_bp=100, audit_value_step=5000) == 500


def test_audit_items_bp_adds_per_step_of_items() -> None:
    assert chance(RiskFacts(basket_value=0, items=25, restricted=False), audit_items_bp=50) == 100


def test_audit_items_step_is_the_step_of_items() -> None:
    facts = RiskFacts(basket_value=0, items=25, restricted=False)
    assert chance(facts, audit_items_bp=50, audit_items_step=5) == 250


def test_audit_restricted_bp_adds_for_an_age_restricted_item() -> None:
    assert chance(RiskFacts(basket_value=0, items=1, restricted=True), audit_restricted_bp=700) == 700
    assert chance(RiskFacts(basket_value=0, items=1, restricted=False), audit_restricted_bp=700) == 0


def test_audit_no_member_bp_adds_for_a_visit_without_a_member() -> None:
    assert chance(RiskFacts(basket_value=0, items=1, restricted=False), audit_no_member_bp=400) == 400
    assert chance(RiskFacts(basket_value=0, items=1, restricted=False, member=True), audit_no_member_bp=400) == 0


def test_audit_new_member_bp_adds_for_a_new_member_only() -> None:
    new = RiskFacts(basket_value=0, items=1, restricted=False, member=True, member_days=10)
    assert chance(new, audit_new_member_bp=300) == 300
    unknown = RiskFacts(basket_value=0, items=1, restricted=False, member=True)
    assert chance(unknown, audit_new_member_bp=300) == 0


def test_audit_new_member_days_is_the_tenure_under_which_a_member_is_new() -> None:
    new = RiskFacts(basket_value=0, items=1, restricted=False, member=True, member_days=10)
    assert chance(new, audit_new_member_bp=300, audit_new_member_days=5) == 0


HISTORY = RiskFacts(basket_value=0, items=1, restricted=False, member=True, audits=5, audit_findings=1)


def test_audit_finding_bp_adds_per_past_audit_that_found_a_difference() -> None:
    assert chance(HISTORY, audit_base_bp=1000, audit_finding_bp=500) == 1500


def test_audit_clean_bp_takes_off_per_clean_past_audit() -> None:
    assert chance(HISTORY, audit_base_bp=1000, audit_clean_bp=100) == 600      # four clean audits: trust


def test_audit_max_bp_caps_the_chance() -> None:
    assert chance(audit_base_bp=9000, audit_max_bp=2500) == 2500


def test_audit_min_bp_is_the_least_chance() -> None:
    assert chance(audit_base_bp=20, audit_min_bp=100) == 100
    trusted = RiskFacts(basket_value=0, items=1, restricted=False, member=True, audits=50)
    assert chance(trusted, audit_base_bp=100, audit_clean_bp=100) == 0         # never below zero


def test_audit_lines_is_the_number_of_lines_picked_and_zero_means_every_line() -> None:
    lines = tuple(f"L{n}" for n in range(1, 9))
    assert len(pick_lines("visit-1", lines, OfflinePolicy().audit_lines)) == 3
    assert len(pick_lines("visit-1", lines, OfflinePolicy(audit_lines=5).audit_lines)) == 5
    assert pick_lines("visit-1", lines, OfflinePolicy(audit_lines=0).audit_lines) == lines


async def test_audit_full_on_mismatch_widens_a_partial_rescan_that_found_a_difference(policy_lane: Open) -> None:
    for full, lines_after in ((True, 3), (False, 1)):
        lane, _ = await policy_lane(audit_base_bp=10000, audit_lines=1, audit_full_on_mismatch=full)
        lane.audit_draw = 0.0
        for code in (TEA, BATTERIES, ONIGIRI):
            await lane.scan(code)
        await lane.checkout.pay("simulated")
        [call] = lane.view["interventions"]
        assert len(call["audit_lines"]) == 1
        await lane.scan(lane.issuer.staff("S-7"), "qr")        # nothing rescanned: a difference
        widened = lane.view["interventions"]
        if full:
            assert [len(c["audit_lines"]) for c in widened] == [lines_after]
        else:
            assert widened == [] and lane.events("omo.audit/1")[0]["result"] == "mismatch"


def test_every_offline_policy_key_has_a_test_that_fails_when_it_is_ignored() -> None:
    keys = {f.name for f in fields(OfflinePolicy)} - {"version"}
    tests = [name for name in vars(sys.modules[__name__]) if name.startswith("test_")]
    missing = sorted(key for key in keys if not any(name.startswith(f"test_{key}_") for name in tests))
    assert keys and not missing, f"offline policy keys without a test here: {missing}"
