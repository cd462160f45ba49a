"""Member prices and catalog promotions on units of the basket (pure; the engine's first two stages).

A line of quantity 5 is five units. Each unit carries the price left after the stages before; a promotion's
saving is split over the units it used (largest remainder), so every unit, and so every line, keeps an exact
amount. The rules, in order:
- member price (a member is identified): `(price - member price) x quantity`, a discount line per line;
- promotions that do not stack: each one's saving is computed on the units still free; the largest saving
  goes first (ties: the lowest promotion ID), its units are used, and the rest are computed again, until
  none saves anything. A unit takes at most one of them. Stacking promotions then apply on what is left;
- `bundle` "N for P": full sets of N eligible units, the most expensive units first (ties by GTIN, then
  scan order), five on "2 for 300" being two sets and one unit at its price; a set saving nothing is not
  formed; a set's saving is split over its units by their prices (ties: the unit scanned first);
- `percent`: off every eligible unit once at least `quantity` are in the basket, rounded down once per
  promotion; `amount`: off each eligible unit, never more than the unit's price.
Fixed-amount lines (weighed, price-embedded) are one unit and take only percent promotions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.session.pricing.engine_types import Discount, LineInput, PromotionRule
from agent.session.pricing.money import rate, round_money, split


@dataclass
class Unit:
    key: str                    # "<line_id>#<n>"
    line_id: str
    gtin: str
    price: int                  # what is left of this unit's price
    fixed: bool
    used: bool = False          # taken by a promotion that does not stack


def gtin14(gtin: str) -> str:
    return gtin.zfill(14)


def take(unit: Unit, amount: int, *, used: bool) -> None:
    """Take `amount` off the unit's price; `used`: no other promotion that does not stack may take the unit.
    (A Unit is the engine's own working record, changed in place by its stages.)"""
    unit.price -= amount
    unit.used = unit.used or used


def member_stage(lines: list[LineInput], member: bool,
                 promoted: frozenset[str]) -> tuple[list[Unit], dict[str, int], list[Discount]]:
    """Lines at their member price (when a member is identified) and the member-price discount lines.

    Only lines a promotion could touch (their GTIN in `promoted`) are cut into units; every other line keeps
    one amount, so pricing a long basket costs per line, not per unit (bench/session.py).
    Returns the units, the amounts of the lines not cut into units, and the discounts.
    """
    units: list[Unit] = []
    amounts: dict[str, int] = {}
    discounts: list[Discount] = []
    for line in lines:
        gtin = gtin14(line.gtin)
        if line.fixed_amount is not None:
            if gtin in promoted:
                units.append(Unit(f"{line.line_id}#0", line.line_id, gtin, line.fixed_amount, True))
            else:
                amounts[line.line_id] = line.fixed_amount
            continue
        price = line.unit_price
        if member and line.member_price is not None and line.member_price < line.unit_price:
            price = max(0, line.member_price)
            saving = (line.unit_price - price) * line.quantity
            discounts.append(Discount(f"member:{line.line_id}", "member_price", None, "Member price", saving,
                                      ((line.line_id, saving),)))
        if gtin in promoted:
            units.extend(Unit(f"{line.line_id}#{n}", line.line_id, gtin, price, False) for n in range(line.quantity))
        else:
            amounts[line.line_id] = price * line.quantity
    return units, amounts, discounts


def promotion_stage(units: list[Unit], promotions: list[PromotionRule], member: bool) -> list[Discount]:
    """Apply the promotions to the units (changing their prices) and return one discount line per application."""
    unique: dict[str, PromotionRule] = {}
    for promo in sorted(promotions, key=lambda p: (p.promo_id, repr(p))):   # one rule per ID, whatever the order
        unique.setdefault(promo.promo_id, promo)
    usable = [p for p in unique.values() if member or not p.member_only]
    discounts: list[Discount] = []
    free = [p for p in usable if not p.stacks]
    while free:
        best: tuple[int, PromotionRule, list[list[Unit]]] | None = None
        for promo in free:
            groups = _groups(promo, [u for u in units if not u.used])
            saving = sum(_saving(promo, group) for group in groups)
            if saving > 0 and (best is None or saving > best[0]):
                best = (saving, promo, groups)
        if best is None:
            break
        _, promo, groups = best
        discounts.extend(_apply(promo, groups, used=True))
        free.remove(promo)
    for promo in (p for p in usable if p.stacks):
        discounts.extend(_apply(promo, _groups(promo, units), used=False))
    return discounts


def _eligible(promo: PromotionRule, units: list[Unit]) -> list[Unit]:
    wanted = {gtin14(g) for g in promo.gtins}
    chosen = [u for u in units if u.gtin in wanted and u.price > 0 and (promo.type == "percent" or not u.fixed)]
    return sorted(chosen, key=lambda u: (-u.price, u.gtin, scan_order(u.key)))


def scan_order(key: str) -> str:
    """A unit key ("L12#3") that sorts in scan order: "L2" before "L12", as the line numbers say."""
    return re.sub(r"\d+", lambda number: number.group().zfill(12), key)


def _groups(promo: PromotionRule, units: list[Unit]) -> list[list[Unit]]:
    """The units one application of the promotion takes: bundle sets, or all eligible units at once."""
    eligible = _eligible(promo, units)
    if promo.type == "bundle":
        size = max(1, promo.quantity)
        sets = [eligible[i:i + size] for i in range(0, len(eligible) - len(eligible) % size, size)]
        return [group for group in sets if _saving(promo, group) > 0]
    if len(eligible) < max(1, promo.quantity):
        return []
    return [eligible]


def _saving(promo: PromotionRule, group: list[Unit]) -> int:
    total = sum(u.price for u in group)
    if promo.type == "bundle":
        return max(0, total - (promo.bundle_price or 0)) if promo.bundle_price is not None else 0
    if promo.type == "percent" and promo.percent is not None:
        return min(total, round_money(total * rate(promo.percent), "down"))
    if promo.type == "amount" and promo.amount is not None:
        return sum(min(promo.amount, u.price) for u in group)
    return 0


def _apply(promo: PromotionRule, groups: list[list[Unit]], *, used: bool) -> list[Discount]:
    discounts = []
    for number, group in enumerate(groups, start=1):
        saving = _saving(promo, group)
        if saving <= 0:
            continue
        if promo.type == "amount" and promo.amount is not None:
            shares = {u.key: min(promo.amount, u.price) for u in group}
        else:
            by_order = split(saving, [(scan_order(u.key), u.price) for u in group])   # ties: scanned first
            shares = {u.key: by_order[scan_order(u.key)] for u in group}
        per_line: dict[str, int] = {}
        for unit in group:
            take(unit, shares[unit.key], used=used)
            per_line[unit.line_id] = per_line.get(unit.line_id, 0) + shares[unit.key]
        suffix = f":{number}" if promo.type == "bundle" else ""
        discounts.append(Discount(f"promo:{promo.promo_id}{suffix}", "promotion", promo.promo_id,
                                  _label(promo), saving, tuple(sorted((k, v) for k, v in per_line.items() if v))))
    return discounts


def _label(promo: PromotionRule) -> str:
    if promo.type == "bundle":
        return f"{promo.quantity} for {promo.bundle_price}"
    if promo.type == "percent":
        return f"{round_money(rate(promo.percent or '0') * 100, 'half_up')}% off"
    return f"{promo.amount} off each"
