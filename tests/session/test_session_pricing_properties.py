"""Invariants of the pricing engine over random baskets, promotions and coupons (hypothesis)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, fields, replace
from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.session.pricing.engine import price_basket
from agent.session.pricing.engine_types import CouponRule, LineInput, PointsRule, PricedBasket, PromotionRule, TaxConfig
from agent.session.pricing.money import round_money

GTINS = [f"049000000000{n:02d}" for n in range(1, 7)]
RATES = ["0.08", "0.10", "0"]


@st.composite
def baskets(draw: st.DrawFn) -> list[LineInput]:
    count = draw(st.integers(1, 12))
    lines = []
    for n in range(count):
        price = draw(st.integers(0, 3000))
        fixed = draw(st.one_of(st.none(), st.integers(0, 5000)))
        lines.append(LineInput(
            line_id=f"L{n + 1}", gtin=draw(st.sampled_from(GTINS)), name="x", quantity=draw(st.integers(1, 6)),
            unit_price=price, member_price=draw(st.one_of(st.none(), st.integers(0, price))),
            tax_rate=draw(st.sampled_from(RATES)), department=draw(st.sampled_from(["food", "drinks", None])),
            fixed_amount=fixed, position=n, expiry=draw(st.sampled_from([None, "2026-12-08", "2026-12-09"])),
            scanned_on="2026-12-08"))
    return lines


promotions = st.lists(st.builds(
    PromotionRule, promo_id=st.sampled_from(["P-1", "P-2", "P-3", "P-4"]),
    type=st.sampled_from(["bundle", "percent", "amount", "expiry_markdown"]), quantity=st.integers(1, 4),
    bundle_price=st.integers(0, 2000), percent=st.sampled_from(["0.1", "0.15", "0.5", "1"]),
    amount=st.integers(0, 500), member_only=st.booleans(),
    gtins=st.frozensets(st.sampled_from(GTINS), min_size=1, max_size=3), stacks=st.booleans(),
    days_before=st.integers(0, 1)), max_size=4)
coupon = st.builds(
    CouponRule, coupon_id=st.sampled_from(["C-1", "C-2", "C-3"]),
    amount=st.one_of(st.none(), st.integers(1, 3000)), percent=st.sampled_from(["0.05", "0.2", "0.5"]),
    min_spend=st.one_of(st.none(), st.integers(0, 3000)),
    gtins=st.frozensets(st.sampled_from(GTINS), max_size=2),
    departments=st.frozensets(st.sampled_from(["food", "drinks"]), max_size=1), member_only=st.booleans(),
    max_saving=st.one_of(st.none(), st.integers(0, 500)))
coupons = st.lists(coupon, max_size=3)
taxes = st.builds(TaxConfig, mode=st.sampled_from(["inclusive", "exclusive"]),
                  rounding=st.sampled_from(["down", "half_up", "up"]))
tiers = st.sampled_from([None, "basic", "gold"])
POINTS = PointsRule(tier_multipliers={"gold": "1.5"})


def price(lines: list[LineInput], promos: list[PromotionRule], cps: list[CouponRule], tax: TaxConfig,
          tier: str | None) -> PricedBasket:
    return price_basket(lines, member_tier=tier, promotions=promos, coupons=cps, tax=tax, points=POINTS)


def money_fields(value: Any) -> list[Any]:
    """Every int-typed amount in the result, recursively (dataclasses and tuples)."""
    found: list[Any] = []
    if hasattr(value, "__dataclass_fields__"):
        for f in fields(value):
            found += money_fields(getattr(value, f.name))
    elif isinstance(value, tuple):
        for item in value:
            found += money_fields(item)
    elif isinstance(value, (int, float, Fraction)) and not isinstance(value, bool):
        found.append(value)
    return found


@settings(max_examples=300, deadline=None)
@given(baskets(), promotions, coupons, taxes, tiers)
def test_lines_less_discounts_make_the_total_and_rates_add_up(lines: list[LineInput], promos: list[PromotionRule],
                                                             cps: list[CouponRule], tax: TaxConfig,
                                                             tier: str | None) -> None:
    priced = price(lines, promos, cps, tax, tier)
    nets = sum(line.net for line in priced.lines)
    assert priced.subtotal - priced.discount_total == nets
    assert sum(r.total for r in priced.rates) == priced.total
    if tax.mode == "inclusive":
        assert priced.total == nets
    else:
        assert priced.total == nets + priced.tax_total


@settings(max_examples=300, deadline=None)
@given(baskets(), promotions, coupons, taxes, tiers)
def test_each_rates_tax_is_the_one_rounding_of_that_rates_total(lines: list[LineInput],
                                                                promos: list[PromotionRule], cps: list[CouponRule],
                                                                tax: TaxConfig, tier: str | None) -> None:
    priced = price(lines, promos, cps, tax, tier)
    for entry in priced.rates:
        base = sum(line.net for line in priced.lines if line.tax_rate == entry.rate)
        r = Fraction(entry.rate)
        expected = round_money(base * r, tax.rounding) if tax.mode == "exclusive" else \
            round_money(base * r / (1 + r), tax.rounding)
        assert entry.tax == expected


@settings(max_examples=300, deadline=None)
@given(baskets(), promotions, coupons, taxes, tiers, st.randoms(use_true_random=False))
def test_the_order_of_scans_promotions_and_coupons_changes_nothing(
        lines: list[LineInput], promos: list[PromotionRule], cps: list[CouponRule], tax: TaxConfig,
        tier: str | None, rnd: Any) -> None:
    shuffled_lines, shuffled_promos, shuffled_coupons = list(lines), list(promos), list(cps)
    rnd.shuffle(shuffled_lines)
    rnd.shuffle(shuffled_promos)
    rnd.shuffle(shuffled_coupons)
    assert asdict(price(lines, promos, cps, tax, tier)) == \
        asdict(price(shuffled_lines, shuffled_promos, shuffled_coupons, tax, tier))


@settings(max_examples=300, deadline=None)
@given(baskets(), promotions, coupons, taxes, tiers)
def test_no_line_below_zero_discounts_add_up_and_money_stays_integer(
        lines: list[LineInput], promos: list[PromotionRule], cps: list[CouponRule], tax: TaxConfig,
        tier: str | None) -> None:
    priced = price(lines, promos, cps, tax, tier)
    assert all(line.net >= 0 for line in priced.lines)
    for discount in priced.discounts:
        assert discount.amount > 0 and sum(amount for _, amount in discount.refers_to) == discount.amount
    assert all(type(v) is int for v in money_fields(priced)), "money is an int of minor units, never float"
    assert priced.points_earned >= 0 and priced.amount_due == priced.total - priced.points_redeemed


def money_of(priced: PricedBasket) -> tuple[Any, ...]:
    """Every amount the shopper and the books see, without the coupons' names."""
    return (priced.total, priced.tax_total, priced.discount_total, priced.amount_due, priced.points_earned,
            [(r.rate, r.total, r.taxable_base, r.tax) for r in priced.rates],
            [(line.line_id, line.net) for line in priced.lines])


@settings(max_examples=200, deadline=None)
@given(baskets(), promotions, st.lists(coupon, max_size=3, unique_by=lambda c: c.coupon_id), taxes, tiers,
       st.randoms(use_true_random=False),
       st.lists(st.text("ABCXYZ-019", min_size=1, max_size=6), min_size=3, max_size=3, unique=True))
def test_renaming_and_reordering_coupons_changes_no_amount(
        lines: list[LineInput], promos: list[PromotionRule], cps: list[CouponRule], tax: TaxConfig,
        tier: str | None, rnd: Any, new_ids: list[str]) -> None:
    """Which coupons apply, and what they take off, depends on what they say, never on how they are named
    (one coupon per ID, as a visit holds them)."""
    renamed = dict(zip(["C-1", "C-2", "C-3"], new_ids, strict=True))
    others = [replace(c, coupon_id=renamed[c.coupon_id]) for c in cps]
    rnd.shuffle(others)
    before, after = price(lines, promos, cps, tax, tier), price(lines, promos, others, tax, tier)
    assert money_of(before) == money_of(after)
    assert outcomes_by_terms(before, cps) == outcomes_by_terms(after, others)


def outcomes_by_terms(priced: PricedBasket, cps: list[CouponRule]) -> Counter[tuple[Any, ...]]:
    """Each coupon's outcome keyed by its terms without its ID: of two coupons that differ only in name, which
    one applies is a matter of naming, but that one does and the other does not is not."""
    terms = {c.coupon_id: repr(replace(c, coupon_id="")) for c in cps}
    return Counter((terms[c.coupon_id], c.applied, c.reason) for c in priced.coupons)


@settings(max_examples=200, deadline=None)
@given(baskets(), promotions, st.lists(coupon, max_size=3, unique_by=lambda c: c.coupon_id), taxes, tiers)
def test_no_coupon_takes_more_than_its_cap_whatever_its_kind(lines: list[LineInput], promos: list[PromotionRule],
                                                             cps: list[CouponRule], tax: TaxConfig,
                                                             tier: str | None) -> None:
    """The offline policy's `max_coupon_value` reaches the engine as `max_saving`: percent coupons included."""
    caps = {c.coupon_id: c.max_saving for c in cps}
    coupon_discounts = [d for d in price(lines, promos, cps, tax, tier).discounts if d.kind == "coupon"]
    for discount in coupon_discounts:
        cap = caps[discount.source_id or ""]
        assert cap is None or discount.amount <= cap
