"""The expiry-day markdown in the one pricing engine (docs/session.md, "Pricing"): worked figures, properties
against a second computation written from the docs, and a lane that sells a unit on its expiry day."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.catalog.catalog_sync import CatalogSync
from agent.catalog.delta import Outcome
from agent.session.pricing.engine import price_basket
from agent.session.pricing.engine_types import LineInput, PricedBasket, PromotionRule
from simulators.cloud.catalog_data import delta_payload
from simulators.cloud.store_catalog import TEA
from simulators.fixtures.session import SessionLane

DAY = date(2026, 12, 8)
GTIN = "04900000000001"
OTHER = "04900000000002"


def line(line_id: str = "L1", *, price: int = 150, quantity: int = 1, expiry: date | None = DAY,
         scanned: date = DAY, member_price: int | None = None, gtin: str = GTIN,
         fixed: int | None = None) -> LineInput:
    return LineInput(line_id, gtin, "x", quantity, price, member_price, "0.08", fixed_amount=fixed,
                     expiry=None if expiry is None else expiry.isoformat(), scanned_on=scanned.isoformat())


def markdown(promo_id: str = "MD-1", *, percent: str | None = "0.2", amount: int | None = None, days_before: int = 0,
             gtins: frozenset[str] = frozenset(), member_only: bool = False) -> PromotionRule:
    return PromotionRule(promo_id, "expiry_markdown", 1, percent=percent, amount=amount, gtins=gtins,
                         days_before=days_before, member_only=member_only)


def marked(priced: PricedBasket) -> dict[str, int]:
    return {d.discount_id: d.amount for d in priced.discounts if d.kind == "markdown"}


@pytest.mark.parametrize(("scanned", "days_before", "saving"), [
    (DAY, 0, 30), (DAY - timedelta(days=1), 0, 0), (DAY + timedelta(days=1), 0, 0),
    (DAY - timedelta(days=1), 1, 30), (DAY - timedelta(days=2), 1, 0), (DAY, 1, 30),
])
def test_the_markdown_applies_on_the_expiry_day_and_only_as_early_as_days_before(
        scanned: date, days_before: int, saving: int) -> None:
    priced = price_basket([line(scanned=scanned)], member_tier=None, promotions=[markdown(days_before=days_before)])
    assert sum(marked(priced).values()) == saving and priced.total == 150 - saving


def test_percent_rounds_down_per_unit_and_amount_never_passes_the_unit_price() -> None:
    three = price_basket([line(price=199, quantity=3)], member_tier=None, promotions=[markdown()])
    assert marked(three) == {"markdown:MD-1:L1": 3 * 39}, "20 % of 199 is 39.8: 39 off each unit, not 119 off all"
    capped = price_basket([line(quantity=2)], member_tier=None, promotions=[markdown(percent=None, amount=200)])
    assert marked(capped) == {"markdown:MD-1:L1": 300} and capped.total == 0


def test_the_markdown_comes_after_the_member_price_and_a_label_without_expiry_is_not_marked_down() -> None:
    priced = price_basket([line(member_price=140), line("L2", expiry=None)], member_tier="gold",
                          promotions=[markdown()])
    assert marked(priced) == {"markdown:MD-1:L1": 28} and priced.total == 140 - 28 + 150


def test_a_marked_down_unit_takes_no_promotion_that_does_not_stack_and_the_best_markdown_wins() -> None:
    bundle = PromotionRule("P-2FOR250", "bundle", 2, bundle_price=250, gtins=frozenset({GTIN}))
    priced = price_basket([line(quantity=2), line("L2", expiry=None)], member_tier=None,
                          promotions=[bundle, markdown(), markdown("MD-0", percent="0.1")])
    assert marked(priced) == {"markdown:MD-1:L1": 60}
    assert not [d for d in priced.discounts if d.kind == "promotion"], "the marked-down pair forms no bundle"
    scoped = price_basket([line(), line("L2", gtin=OTHER)], member_tier=None,
                          promotions=[markdown(gtins=frozenset({OTHER}))])
    assert marked(scoped) == {"markdown:MD-1:L2": 30}


# --- properties, against a second computation of the rule as docs/session.md words it ---------------------------

@st.composite
def dated_lines(draw: st.DrawFn) -> list[LineInput]:
    lines = []
    for n in range(draw(st.integers(1, 8))):
        price = draw(st.integers(0, 3000))
        offset = draw(st.sampled_from([None, -1, 0, 1, 2]))      # label expiry minus scan date, in days
        lines.append(line(f"L{n + 1}", price=price, quantity=draw(st.integers(1, 5)),
                          member_price=draw(st.one_of(st.none(), st.integers(0, price))),
                          expiry=None if offset is None else DAY + timedelta(days=offset),
                          gtin=draw(st.sampled_from([GTIN, OTHER])),
                          fixed=draw(st.one_of(st.none(), st.integers(0, 4000)))))
    return lines


markdowns = st.lists(st.builds(
    markdown, promo_id=st.sampled_from(["MD-1", "MD-2", "MD-3"]),
    percent=st.one_of(st.none(), st.sampled_from(["0.1", "0.2", "0.33", "0.5", "1"])), amount=st.integers(1, 400),
    days_before=st.integers(0, 1), gtins=st.frozensets(st.sampled_from([GTIN, OTHER]), max_size=1),
    member_only=st.booleans()), max_size=3, unique_by=lambda r: r.promo_id)


def expected_saving(item: LineInput, rules: list[PromotionRule], member: bool) -> int:
    """Per unit: the price after the member price, the best fitting markdown's cut (percent rounded down per
    unit, amount at most the price), times the units; a fixed-amount line is one unit."""
    if item.expiry is None or item.scanned_on is None:
        return 0
    units = 1 if item.fixed_amount is not None else item.quantity
    unit = item.fixed_amount if item.fixed_amount is not None else (
        min(item.unit_price, item.member_price) if member and item.member_price is not None else item.unit_price)
    days = (date.fromisoformat(item.expiry) - date.fromisoformat(item.scanned_on)).days
    cuts = [min(unit, unit * int(float(r.percent) * 100) // 100) if r.percent is not None else min(unit, r.amount or 0)
            for r in rules if (member or not r.member_only) and (not r.gtins or item.gtin in r.gtins)
            and 0 <= days <= r.days_before]
    return max(cuts, default=0) * units


@settings(max_examples=200, deadline=None)
@given(dated_lines(), markdowns, st.sampled_from([None, "gold"]))
def test_each_line_is_marked_down_by_its_units_times_the_best_cut(lines: list[LineInput],
                                                                  rules: list[PromotionRule],
                                                                  tier: str | None) -> None:
    priced = price_basket(lines, member_tier=tier, promotions=rules)
    got = {line_id: amount for d in priced.discounts if d.kind == "markdown" for line_id, amount in d.refers_to}
    want = {item.line_id: expected_saving(item, rules, tier is not None) for item in lines}
    assert got == {k: v for k, v in want.items() if v}
    nets = {p.line_id: p.net for p in priced.lines}
    assert all(nets[item.line_id] >= 0 for item in lines)


@settings(max_examples=100, deadline=None)
@given(dated_lines(), markdowns)
def test_a_unit_scanned_with_no_expiry_or_off_its_day_costs_the_same_as_without_markdowns(
        lines: list[LineInput], rules: list[PromotionRule]) -> None:
    off_day = [replace(item, scanned_on=(DAY + timedelta(days=5)).isoformat()) for item in lines]
    assert price_basket(off_day, member_tier=None, promotions=rules).total == \
        price_basket(off_day, member_tier=None).total


# --- through a lane: the markdown priced by the session and shown as a discount line in the sale ---------------

async def test_a_unit_on_its_expiry_day_is_marked_down_on_screen_and_in_the_sale(session_lane: SessionLane) -> None:
    lane = session_lane
    assert lane.catalog is not None
    rule = {"kind": "promotion", "id": "MD-EXPIRY", "type": "expiry_markdown", "percent": "0.20"}
    async with asyncio.timeout(20):
        applied = await CatalogSync(lane.catalog, None, max_age_s=86400, poll_interval_s=3600).apply(
            delta_payload(1, 2, [rule]))
    assert applied is Outcome.APPLIED
    today = lane.clock.now().date()
    for expiry in (today, today + timedelta(days=1)):
        await lane.scan(f"010{TEA}17{expiry.strftime('%y%m%d')}10LOT1", "gs1-datamatrix")
    await lane.scan(TEA)
    view = lane.view
    assert [(line["quantity"], line["net"]) for line in view["lines"]] == [(1, 120), (1, 150), (1, 150)], \
        "a unit of another expiry is a line of its own"
    assert lane.view["lines"][0]["expiry"] == today.isoformat()
    [discount] = view["discounts"]
    assert (discount["kind"], discount["amount"], discount["label"]) == ("markdown", 30, "Expiry day 20% off")
    assert lane.checkout is not None
    await lane.checkout.pay("simulated")
    [sale] = lane.events("omo.sale/1")
    assert sale["total"] == 420 and [d["kind"] for d in sale["discounts"]] == ["markdown"]
    assert sale["receipt"]["discounts"] == [{"label": "Expiry day 20% off", "kind": "markdown", "amount": 30,
                                             "lines": [{"line_id": view["lines"][0]["line_id"], "amount": 30}]}]
