"""The one pricing engine: every total the screen, the receipt and the cloud see comes from `price_basket`.

Order (docs/session.md): member price, the expiry-day markdown (`agent/session/pricing/markdown.py`), catalog
promotions (`agent/session/pricing/promotions.py`), coupons, then tax once per rate per receipt, then points.
Pure and deterministic: the same lines in any order give the same result, money stays an `int` of minor units,
and no line's amount goes below zero.

Coupons, each once (a coupon given twice counts once), in an order set by what they say and never by their
IDs (`coupon_order`: item coupons, department coupons, then order coupons; percent before amount in each),
each on what the promotions and the coupons before it left: the eligible lines are those matching the
coupon's GTINs and departments (none given: every line); `min_spend` is checked against the eligible lines'
amount before any coupon (tax included in inclusive mode, before tax in exclusive mode), so one coupon never
disqualifies another; an amount coupon takes at most that amount, a percent coupon rounds down. The saving is
spread over the eligible lines in proportion to their amounts by the largest remainder, which is how a coupon
on the whole order splits exactly between two tax rates.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from agent.catalog.rates import canonical_rate
from agent.session.pricing.engine_types import (
    CouponOutcome,
    CouponRule,
    Discount,
    LineInput,
    PointsRule,
    PricedBasket,
    PricedLine,
    PromotionRule,
    RateTotal,
    TaxConfig,
)
from agent.session.pricing.markdown import MARKDOWN, markdown_stage
from agent.session.pricing.money import rate, round_money, split
from agent.session.pricing.promotions import gtin14, member_stage, promotion_stage

DEFAULT_TAX = TaxConfig()


def price_basket(lines: Iterable[LineInput], *, member_tier: str | None, promotions: Iterable[PromotionRule] = (),
                 coupons: Iterable[CouponRule] = (), tax: TaxConfig = DEFAULT_TAX, points: PointsRule | None = None,
                 points_to_redeem: int = 0) -> PricedBasket:
    """Price a basket; see the module docstring for the rules and their order."""
    ordered = sorted(lines, key=lambda line: line.line_id)
    member = member_tier is not None
    every = list(promotions)
    rules = [rule for rule in every if rule.type != MARKDOWN]
    promoted = frozenset(gtin14(g) for rule in rules for g in rule.gtins)
    units, nets, discounts = member_stage(ordered, member, promoted)
    discounts += markdown_stage(ordered, units, nets, [rule for rule in every if rule.type == MARKDOWN], member)
    discounts += promotion_stage(units, rules, member)
    for unit in units:
        nets[unit.line_id] = nets.get(unit.line_id, 0) + unit.price
    coupon_discounts, outcomes = _coupons(ordered, nets, coupons, member)
    discounts += coupon_discounts
    priced = tuple(PricedLine(line.line_id, line.gtin, line.quantity, line.unit_price, _gross(line),
                              nets[line.line_id], canonical_rate(line.tax_rate)) for line in ordered)
    rates = _taxes(priced, tax)
    total = sum(r.total for r in rates)
    subtotal = sum(line.gross for line in priced)
    redeemed = max(0, min(points_to_redeem, total))
    earned = _points(points, member_tier, rates, total, redeemed)
    return PricedBasket(lines=priced, discounts=tuple(discounts), rates=rates, subtotal=subtotal,
                        discount_total=sum(d.amount for d in discounts), total=total,
                        tax_total=sum(r.tax for r in rates), coupons=outcomes, points_earned=earned,
                        points_redeemed=redeemed, amount_due=total - redeemed)


def _gross(line: LineInput) -> int:
    return line.fixed_amount if line.fixed_amount is not None else line.unit_price * line.quantity


def _coupons(lines: list[LineInput], nets: dict[str, int], coupons: Iterable[CouponRule],
             member: bool) -> tuple[list[Discount], tuple[CouponOutcome, ...]]:
    unique: dict[str, CouponRule] = {}
    for coupon in sorted(coupons, key=lambda c: (c.coupon_id, repr(c))):   # deterministic, whatever the order
        unique.setdefault(coupon.coupon_id, coupon)
    before = dict(nets)         # minimum spend is judged on these: after promotions, before any coupon
    discounts, outcomes = [], []
    for coupon in sorted(unique.values(), key=coupon_order):
        matching = [line for line in lines if _matches(coupon, line) and before[line.line_id] > 0]
        reason = _coupon_refusal(coupon, member, matching, sum(before[line.line_id] for line in matching))
        eligible = [line for line in matching if nets[line.line_id] > 0]
        saving = 0 if reason is not None else _saving(coupon, sum(nets[line.line_id] for line in eligible))
        if reason is None and saving <= 0:
            reason = "no_saving"
        if reason is not None:
            outcomes.append(CouponOutcome(coupon.coupon_id, False, reason))
            continue
        shares = split(saving, [(line.line_id, nets[line.line_id]) for line in eligible])
        for line_id, share in shares.items():
            nets[line_id] -= share
        discounts.append(Discount(f"coupon:{coupon.coupon_id}", "coupon", coupon.coupon_id, "Coupon", saving,
                                  tuple(sorted((k, v) for k, v in shares.items() if v))))
        outcomes.append(CouponOutcome(coupon.coupon_id, True))
    return discounts, tuple(sorted(outcomes, key=lambda o: o.coupon_id))


def coupon_order(coupon: CouponRule) -> tuple[object, ...]:
    """The order coupons apply in, from what they say and never from their IDs (docs/session.md).

    Coupons naming items, then coupons naming departments, then order coupons; in each, percent before amount,
    then the larger first, then the rest of their terms. Two coupons equal in every term but the ID have the
    same effect in either order, so the ID, last, only makes the order total.
    """
    scope = 0 if coupon.gtins else 1 if coupon.departments else 2
    by_amount = coupon.amount is not None
    value = Fraction(coupon.amount) if coupon.amount is not None else rate(coupon.percent or "0")
    return (scope, by_amount, -value, coupon.min_spend or 0, sorted(gtin14(g) for g in coupon.gtins),
            sorted(coupon.departments), coupon.member_only,
            coupon.max_saving is None, coupon.max_saving or 0, coupon.coupon_id)


def _saving(coupon: CouponRule, amount: int) -> int:
    """What the coupon takes off `amount` (what its eligible lines have left): an amount at most, or a percent
    rounded down; never more than its `max_saving` (the offline policy's cap), whichever kind it is."""
    saving = min(amount, coupon.amount) if coupon.amount is not None else \
        round_money(amount * rate(coupon.percent or "0"), "down")
    return saving if coupon.max_saving is None else min(saving, coupon.max_saving)


def _matches(coupon: CouponRule, line: LineInput) -> bool:
    if coupon.gtins and gtin14(line.gtin) not in {gtin14(g) for g in coupon.gtins}:
        return False
    return not coupon.departments or line.department in coupon.departments


def _coupon_refusal(coupon: CouponRule, member: bool, eligible: list[LineInput], amount: int) -> str | None:
    if coupon.member_only and not member:
        return "member_only"
    if not eligible:
        return "no_eligible_items"
    if coupon.min_spend is not None and amount < coupon.min_spend:
        return "min_spend_not_met"
    return None


def _taxes(lines: tuple[PricedLine, ...], tax: TaxConfig) -> tuple[RateTotal, ...]:
    """Tax once per rate for the whole receipt, from that rate's total: never per line and summed.

    The lines' rates are canonical (`PricedLine`), so "0.1" and "0.10" are one rate with one rounding.
    """
    by_rate: dict[str, int] = {}
    for line in lines:
        by_rate[line.tax_rate] = by_rate.get(line.tax_rate, 0) + line.net
    totals = []
    for key in sorted(by_rate, key=rate):
        amount, r = by_rate[key], rate(key)
        if tax.mode == "exclusive":
            levied = round_money(amount * r, tax.rounding)
            totals.append(RateTotal(key, amount + levied, amount, levied))
        else:
            levied = round_money(amount * r / (1 + r), tax.rounding)
            totals.append(RateTotal(key, amount, amount - levied, levied))
    return tuple(totals)


def _points(rule: PointsRule | None, tier: str | None, rates: tuple[RateTotal, ...], total: int,
            redeemed: int) -> int:
    """Points on what the shopper pays (the tax-inclusive amount, or its pre-tax part, less points redeemed):
    per full unit then times the tier's multiplier (`per_unit`), or on the multiplied spend (`proportional`),
    rounded once."""
    if rule is None or tier is None or rule.unit <= 0:
        return 0
    paid = sum(r.taxable_base for r in rates) if rule.basis == "pre_tax" else total
    basis = max(0, paid - redeemed)
    multiplier = rate(rule.tier_multipliers.get(tier, "1"))
    if rule.earning == "proportional":              # floor(paid x multiplier / unit)
        return round_money(basis * rule.points_per_unit * multiplier / rule.unit, rule.rounding)
    # per_unit, the usual programmes' rule: points per full unit of spend, then the tier's multiplier
    return round_money(basis // rule.unit * rule.points_per_unit * multiplier, rule.rounding)
