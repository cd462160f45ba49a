"""The expiry-day markdown (pure; the engine's stage between member prices and catalog promotions).

A store marks down food on the day it expires so that it sells rather than goes to waste. The catalog says so
with an `expiry_markdown` promotion (docs/catalog.md): `percent` or `amount` off, on the label's expiry day or
from `days_before` days before it, for its GTINs (or every item). The rules (docs/session.md, "Pricing"):
- it applies per unit of a line whose label carries an expiry (GS1 AI 17), judged by the store's date when
  the unit was scanned (`scanned_on`): a price is fixed at the scan, so a visit that runs past midnight keeps
  it; a unit scanned after its expiry is past the markdown (and is refused on a trusted clock anyway);
- on the price left after the member price: `percent` off each unit rounded down (per unit, as a shelf label
  would print it), `amount` off each unit but never more than the unit's price;
- where several markdowns fit a unit, the one saving most per unit applies (ties: the lowest promotion ID);
- a marked-down unit takes no other promotion that does not stack (it is the store's clearance price);
  stacking promotions and coupons still apply on what is left.
Each marked-down line gets one discount line of kind `markdown`.
"""

from __future__ import annotations

from datetime import date

from agent.session.pricing.engine_types import Discount, LineInput, PromotionRule
from agent.session.pricing.money import rate, round_money
from agent.session.pricing.promotions import Unit, gtin14, take

MARKDOWN = "expiry_markdown"


def on_markdown_day(expiry: str, scanned_on: str, days_before: int) -> bool:
    """Whether a unit scanned on `scanned_on` (ISO date) with a label expiring on `expiry` is marked down."""
    days_left = (date.fromisoformat(expiry) - date.fromisoformat(scanned_on)).days
    return 0 <= days_left <= days_before


def unit_saving(rule: PromotionRule, price: int) -> int:
    """What the markdown takes off one unit priced `price` (minor units, never more than the price)."""
    if rule.percent is not None:
        return min(price, round_money(price * rate(rule.percent), "down"))
    return min(price, max(0, rule.amount or 0))


def markdown_stage(lines: list[LineInput], units: list[Unit], amounts: dict[str, int], rules: list[PromotionRule],
                   member: bool) -> list[Discount]:
    """Mark down the units of lines on their markdown day: the units' prices, or the uncut lines' `amounts`,
    change in place; returns one discount line per marked-down line."""
    by_line: dict[str, list[Unit]] = {}
    for unit in units:
        by_line.setdefault(unit.line_id, []).append(unit)
    discounts = []
    for line in lines:
        rule = _rule_for(line, rules, member, _unit_price(line, by_line, amounts))
        if rule is None:
            continue
        saved = _mark_units(rule, by_line[line.line_id]) if line.line_id in by_line else \
            _mark_amount(rule, line, amounts)
        if saved > 0:
            discounts.append(Discount(f"markdown:{rule.promo_id}:{line.line_id}", "markdown", rule.promo_id,
                                      label(rule), saved, ((line.line_id, saved),)))
    return discounts


def _units_in(line: LineInput) -> int:
    return 1 if line.fixed_amount is not None else line.quantity


def _unit_price(line: LineInput, by_line: dict[str, list[Unit]], amounts: dict[str, int]) -> int:
    """A unit's price after the member price (every unit of a line has the same one at this stage)."""
    cut = by_line.get(line.line_id)
    return cut[0].price if cut else amounts.get(line.line_id, 0) // max(1, _units_in(line))


def _rule_for(line: LineInput, rules: list[PromotionRule], member: bool, price: int) -> PromotionRule | None:
    if line.expiry is None or line.scanned_on is None:
        return None
    fitting = [r for r in rules if (member or not r.member_only) and (not r.gtins or gtin14(line.gtin) in
               {gtin14(g) for g in r.gtins}) and on_markdown_day(line.expiry, line.scanned_on, r.days_before)]
    return min(fitting, key=lambda r: (-unit_saving(r, price), r.promo_id, repr(r)), default=None)


def _mark_units(rule: PromotionRule, units: list[Unit]) -> int:
    saved = 0
    for unit in units:
        cut = unit_saving(rule, unit.price)
        take(unit, cut, used=cut > 0)         # a unit the markdown takes nothing off is not marked down
        saved += cut
    return saved


def _mark_amount(rule: PromotionRule, line: LineInput, amounts: dict[str, int]) -> int:
    count = _units_in(line)
    saved = unit_saving(rule, amounts[line.line_id] // count) * count
    amounts[line.line_id] -= saved
    return saved


def label(rule: PromotionRule) -> str:
    if rule.percent is not None:
        return f"Expiry day {round_money(rate(rule.percent) * 100, 'half_up')}% off"
    return f"Expiry day {rule.amount} off each"
