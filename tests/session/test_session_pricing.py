"""The pricing engine, case by case from the rules in docs/session.md (amounts worked out by hand)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from agent.session.pricing.engine import price_basket
from agent.session.pricing.engine_types import CouponRule, LineInput, PointsRule, PromotionRule, TaxConfig
from agent.session.pricing.money import round_money, split

TEA, RICE, BEER = "04900000000016", "04900000000023", "04900000000030"


def line(line_id: str, gtin: str, quantity: int, price: int, rate: str = "0.08", *, member: int | None = None,
         fixed: int | None = None, department: str | None = None) -> LineInput:
    return LineInput(line_id, gtin, line_id, quantity, price, member, rate, department, fixed)


def bundle(gtins: tuple[str, ...], n: int, price: int, promo_id: str = "P-B", stacks: bool = False) -> PromotionRule:
    return PromotionRule(promo_id, "bundle", n, bundle_price=price, gtins=frozenset(gtins), stacks=stacks)


@pytest.mark.parametrize(("quantity", "total"), [(1, 160), (2, 300), (3, 460), (4, 600), (5, 760)])
def test_a_bundle_applies_once_per_full_set(quantity: int, total: int) -> None:
    priced = price_basket([line("L1", RICE, quantity, 160)], member_tier=None, promotions=[bundle((RICE,), 2, 300)])
    assert priced.total == total
    assert len(priced.discounts) == quantity // 2, "one discount line per set, never duplicated"


def test_a_bundle_never_raises_the_price() -> None:
    priced = price_basket([line("L1", RICE, 2, 100)], member_tier=None, promotions=[bundle((RICE,), 2, 300)])
    assert priced.total == 200 and priced.discounts == ()


def test_a_mixed_bundle_takes_the_most_expensive_units_first() -> None:
    lines = [line("L1", TEA, 1, 200), line("L2", RICE, 2, 120)]
    priced = price_basket(lines, member_tier=None, promotions=[bundle((TEA, RICE), 2, 250)])
    assert priced.total == 250 + 120                      # tea (200) with one rice (120) saves 70; the best set


def test_member_price_applies_beneath_a_bundle() -> None:
    lines = [line("L1", RICE, 2, 160, member=150)]
    priced = price_basket(lines, member_tier="gold", promotions=[bundle((RICE,), 2, 280)])
    kinds = [(d.kind, d.amount) for d in priced.discounts]
    assert kinds == [("member_price", 20), ("promotion", 20)] and priced.total == 280


def test_member_only_promotions_need_a_member() -> None:
    promo = PromotionRule("P-M", "amount", 1, amount=30, member_only=True, gtins=frozenset({TEA}))
    assert price_basket([line("L1", TEA, 1, 150)], member_tier=None, promotions=[promo]).total == 150
    assert price_basket([line("L1", TEA, 1, 150)], member_tier="basic", promotions=[promo]).total == 120


def test_an_amount_off_never_takes_a_unit_below_zero() -> None:
    promo = PromotionRule("P-A", "amount", 1, amount=500, gtins=frozenset({TEA}))
    priced = price_basket([line("L1", TEA, 2, 150)], member_tier=None, promotions=[promo])
    assert priced.total == 0 and priced.lines[0].net == 0


def test_a_percent_promotion_is_rounded_down_once() -> None:
    promo = PromotionRule("P-P", "percent", 1, percent="0.15", gtins=frozenset({TEA}))
    priced = price_basket([line("L1", TEA, 3, 99)], member_tier=None, promotions=[promo])
    assert priced.discounts[0].amount == 44 and priced.total == 297 - 44     # 297 x 0.15 = 44.55


def test_of_two_competing_promotions_the_better_one_for_the_shopper_wins() -> None:
    lines = [line("L1", RICE, 2, 160)]
    promotions = [bundle((RICE,), 2, 300, "P-1"), PromotionRule("P-2", "percent", 1, percent="0.2",
                                                                  gtins=frozenset({RICE}))]
    priced = price_basket(lines, member_tier=None, promotions=promotions)
    assert [d.source_id for d in priced.discounts] == ["P-2"] and priced.total == 256     # 64 off beats 20 off


def test_a_stacking_promotion_applies_on_top() -> None:
    lines = [line("L1", RICE, 2, 160)]
    promotions = [bundle((RICE,), 2, 300, "P-1"), PromotionRule("P-2", "amount", 1, amount=10, stacks=True,
                                                                  gtins=frozenset({RICE}))]
    assert price_basket(lines, member_tier=None, promotions=promotions).total == 280


def test_a_coupon_below_its_minimum_spend_is_kept_but_not_applied() -> None:
    coupon = CouponRule("C-1", amount=100, min_spend=500)
    priced = price_basket([line("L1", TEA, 1, 150)], member_tier="gold", coupons=[coupon])
    assert priced.total == 150 and priced.coupons[0].applied is False
    assert priced.coupons[0].reason == "min_spend_not_met"


def test_a_coupon_targets_items_or_departments() -> None:
    lines = [line("L1", TEA, 1, 150, department="drinks"), line("L2", RICE, 1, 160, department="food")]
    by_item = price_basket(lines, member_tier=None, coupons=[CouponRule("C-T", percent="0.2", gtins=frozenset({TEA}))])
    by_department = price_basket(lines, member_tier=None,
                                 coupons=[CouponRule("C-D", amount=50, departments=frozenset({"food"}))])
    assert by_item.total == 310 - 30 and by_item.discounts[0].refers_to == (("L1", 30),)
    assert by_department.total == 310 - 50 and by_department.discounts[0].refers_to == (("L2", 50),)


def test_a_coupon_given_twice_counts_once() -> None:
    coupon = CouponRule("C-1", amount=100)
    priced = price_basket([line("L1", BEER, 2, 298, "0.10")], member_tier=None, coupons=[coupon, coupon])
    assert priced.total == 496 and len(priced.discounts) == 1


def test_an_order_coupon_splits_between_two_rates_exactly() -> None:
    lines = [line("L1", TEA, 1, 300), line("L2", BEER, 1, 700, "0.10")]
    priced = price_basket(lines, member_tier=None, coupons=[CouponRule("C-1", amount=101)])
    assert priced.discounts[0].refers_to == (("L1", 30), ("L2", 71))       # 30.3 and 70.7: the larger remainder
    assert {r.rate: r.total for r in priced.rates} == {"0.08": 270, "0.10": 629}


@pytest.mark.parametrize(("item_id", "order_id"), [("C-A", "C-Z"), ("C-Z", "C-A")])
def test_which_coupons_apply_does_not_depend_on_their_ids(item_id: str, order_id: str) -> None:
    # 300 tea + 260 rice = 560. Item coupon first: 20 % off tea = 60. The order coupon's minimum spend (520) is
    # judged on 560, before any coupon, so it applies: 560 - 60 - 100 = 400, whichever ID sorts first.
    lines = [line("L1", TEA, 1, 300), line("L2", RICE, 1, 260)]
    item = CouponRule(item_id, percent="0.2", gtins=frozenset({TEA}))
    order = CouponRule(order_id, amount=100, min_spend=520)
    priced = price_basket(lines, member_tier=None, coupons=[item, order])
    assert priced.total == 400
    assert {c.coupon_id: c.applied for c in priced.coupons} == {item_id: True, order_id: True}
    assert [d.amount for d in priced.discounts] == [60, 100], "the item coupon, then the order coupon"


def test_percent_coupons_go_before_amount_coupons_of_their_class() -> None:
    # 500: 20 % off first (100), then 100 off = 300; the other way round would be 400 x 0.8 = 320.
    for ids in (("C-A", "C-Z"), ("C-Z", "C-A")):
        coupons = [CouponRule(ids[0], percent="0.2"), CouponRule(ids[1], amount=100)]
        assert price_basket([line("L1", TEA, 1, 500)], member_tier=None, coupons=coupons).total == 300


def test_member_only_coupons_need_a_member() -> None:
    priced = price_basket([line("L1", TEA, 1, 150)], member_tier=None,
                          coupons=[CouponRule("C-1", amount=10, member_only=True)])
    assert priced.coupons[0].reason == "member_only" and priced.total == 150


def test_tax_is_rounded_once_per_rate_never_per_line() -> None:
    # Per line: 3 lines of 105 at 8 % inclusive -> 7.78 each -> 7 + 7 + 7 = 21. Per rate: 315 x 8/108 = 23.33 -> 23.
    lines = [line(f"L{n}", f"0490000000{n:04d}", 1, 105) for n in range(1, 4)]
    priced = price_basket(lines, member_tier=None)
    assert priced.rates[0].tax == 23 and priced.tax_total == 23


@pytest.mark.parametrize(("mode", "rounding", "total", "tax"), [
    ("inclusive", "down", 1000, 74), ("inclusive", "half_up", 1000, 74), ("inclusive", "up", 1000, 75),
    ("exclusive", "down", 1080, 80), ("exclusive", "half_up", 1080, 80), ("exclusive", "up", 1080, 80),
])
def test_both_tax_modes_and_every_rounding(mode: str, rounding: str, total: int, tax: int) -> None:
    priced = price_basket([line("L1", TEA, 1, 1000)], member_tier=None, tax=TaxConfig(mode, rounding))
    assert (priced.total, priced.tax_total) == (total, tax)                 # 1000 x 8/108 = 74.07


def test_exclusive_mode_rounds_each_rate_once_on_the_base() -> None:
    lines = [line("L1", TEA, 1, 333), line("L2", BEER, 1, 555, "0.10")]
    priced = price_basket(lines, member_tier=None, tax=TaxConfig("exclusive", "half_up"))
    assert [(r.rate, r.taxable_base, r.tax, r.total) for r in priced.rates] == [
        ("0.08", 333, 27, 360), ("0.10", 555, 56, 611)]                     # 26.64 -> 27; 55.5 -> 56


@pytest.mark.parametrize(("basis", "unit", "tier", "points"), [
    ("tax_inclusive", 100, "basic", 10),     # 1080 / 100 = 10.8 -> 10 full units
    ("tax_inclusive", 200, "basic", 5),      # 5.4 -> 5
    ("tax_inclusive", 100, "gold", 20),      # 10 full units, then x 2: the usual programmes' rule (the default)
    ("pre_tax", 100, "basic", 10),           # (1080 - 80 tax) / 100 = 10
    ("tax_inclusive", 110, "basic", 9),      # 9.8 -> 9
])
def test_points_follow_the_configured_rule(basis: str, unit: int, tier: str, points: int) -> None:
    rule = PointsRule(basis=basis, unit=unit, tier_multipliers={"gold": "2"})
    priced = price_basket([line("L1", TEA, 1, 1080)], member_tier=tier, points=rule)
    assert priced.points_earned == points


@pytest.mark.parametrize(("earning", "multiplier", "points"), [
    ("per_unit", "2", 20),                   # floor(1080 / 100) x 2 = 10 x 2
    ("proportional", "2", 21),               # floor(1080 x 2 / 100) = floor(21.6)
    ("per_unit", "1.5", 15),                 # 10 x 1.5
    ("proportional", "1.5", 16),             # floor(16.2)
    ("per_unit", "1.25", 12),                # 10 x 1.25 = 12.5, rounded once (down)
])
def test_the_multiplier_applies_to_full_units_or_to_the_spend_as_configured(earning: str, multiplier: str,
                                                                             points: int) -> None:
    rule = PointsRule(earning=earning, tier_multipliers={"gold": multiplier})
    assert price_basket([line("L1", TEA, 1, 1080)], member_tier="gold", points=rule).points_earned == points


def test_no_points_without_a_member_and_redemption_is_capped_at_the_total() -> None:
    rule = PointsRule()
    assert price_basket([line("L1", TEA, 1, 500)], member_tier=None, points=rule).points_earned == 0
    priced = price_basket([line("L1", TEA, 1, 500)], member_tier="basic", points=rule, points_to_redeem=800)
    assert (priced.points_redeemed, priced.amount_due, priced.points_earned) == (500, 0, 0)


def test_split_adds_up_and_breaks_ties_by_key_not_by_order() -> None:
    assert split(10, [("b", 1), ("a", 1), ("c", 1)]) == {"a": 4, "b": 3, "c": 3}
    assert sum(split(99, [("x", 7), ("y", 13), ("z", 1)]).values()) == 99


@pytest.mark.parametrize(("value", "mode", "expected"), [
    (Fraction(5, 2), "down", 2), (Fraction(5, 2), "half_up", 3), (Fraction(5, 2), "up", 3),
    (Fraction(7, 3), "half_up", 2), (Fraction(4, 1), "up", 4),
])
def test_rounding_modes(value: Fraction, mode: str, expected: int) -> None:
    assert round_money(value, mode) == expected
