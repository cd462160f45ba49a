"""What the money model sells from, twice: as the catalog lines the lane imports, and as the reference model's
terms (simulators/trials/money_reference.py). Both are written here side by side from the same figures, so a reader
can check them against each other and against docs/catalog.md.

Known defects being fixed on other branches are kept out by the inputs, not by weaker checks: with a defect's
name in `KNOWN_OPEN` the catalog and the machine's rules avoid what would show it (for example the rates are
spelled one way only while "rate_spelling" is open). Empty the set and every input runs.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from simulators.cloud.store_catalog import (
    BATTERIES,
    BEEF,
    BEER,
    MEMBER,
    MEMBER_NO_CONSENT,
    NOT_IN_CATALOG,
    ONIGIRI,
    SNACK,
    TEA,
    deli_lookup_gtin,
    ean13,
)
from simulators.trials.money_reference import Bundle, CouponTerms, Item, Markdown, Policy

# Defects known and not yet fixed, each named by the invariant or input that shows it (docs/session.md, "The money
# model"): while a name is here the machine avoids the inputs that show it, and its recorded program is skipped.
# Empty: every defect the model was written against is fixed.
KNOWN_OPEN: frozenset[str] = frozenset()

MILK = ean13("451000000007")
COUPON_ORDER = "C-100OFF"        # 100 off a spend of 500, once on this lane: an order coupon
COUPON_TEA = "C-TEA20"           # 20 % off tea: an item coupon, any number of uses
COUPON_HOUSE = "C-HOUSE50"       # 50 % off household items, twice on this lane
MAX_QUANTITY = 3
STALE_AFTER_S = 86400            # [catalog] max_age_s, the pipeline's default
MEMBERS = {MEMBER: ("gold", 1200), MEMBER_NO_CONSENT: ("basic", 30)}
TIER_MULTIPLIERS = {"gold": "2"}


def _gtin14(code: str) -> str:
    return code if len(code) == 14 else "0" + code


def _rates(open_: frozenset[str]) -> dict[str, tuple[str, str]]:
    """Each product's rate as the catalog spells it, and as the model reads it."""
    spelled = "rate_spelling" not in open_
    return {TEA: ("0.08", "0.08"), ONIGIRI: ("0.080" if spelled else "0.08", "0.08"),
            BEER: ("0.10", "0.10"), BATTERIES: ("0.1" if spelled else "0.10", "0.10"), MILK: ("0.08", "0.08"),
            BEEF: ("0.08", "0.08"), SNACK: ("0.08", "0.08")}


def items(open_: frozenset[str] = KNOWN_OPEN) -> dict[str, Item]:
    """The model's view of every product, by 14-digit GTIN."""
    rates = _rates(open_)

    def rate(code: str) -> Fraction:
        return Fraction(rates[code][1])

    found = [
        Item(_gtin14(TEA), 150, rate(TEA), member_price=140, department="drinks"),
        Item(_gtin14(ONIGIRI), 160, rate(ONIGIRI), department="food"),
        Item(_gtin14(BEER), 298, rate(BEER), department="alcohol", age_restricted=True),
        Item(_gtin14(BATTERIES), 498, rate(BATTERIES), department="household"),
        Item(_gtin14(MILK), 220, rate(MILK), member_price=198, department="drinks"),
        Item(_gtin14(BEEF), 398, rate(BEEF), department="deli", unit="100g"),
        Item(_gtin14(SNACK), 120, rate(SNACK), sale_stop=True),
        Item(deli_lookup_gtin(), 0, Fraction("0.08"), department="deli"),
    ]
    return {item.gtin: item for item in found}


def coupons(open_: frozenset[str] = KNOWN_OPEN) -> dict[str, CouponTerms]:
    """The model's terms of every coupon, by the ID the catalog gives it."""
    order = coupon_id(COUPON_ORDER, open_)
    return {order: CouponTerms(order, amount=100, min_spend=500, max_uses=1),
            COUPON_TEA: CouponTerms(COUPON_TEA, percent=Fraction("0.2"), gtins=frozenset({_gtin14(TEA)})),
            COUPON_HOUSE: CouponTerms(COUPON_HOUSE, percent=Fraction("0.5"), departments=frozenset({"household"}),
                                      max_uses=2)}


BUNDLES = (Bundle("P-ONIGIRI-2FOR300", _gtin14(ONIGIRI), 2, 300),)
# 20 % off onigiri and milk on their label's expiry day: over a bundle (a marked-down unit forms none) and a
# member price (the markdown comes after it).
MARKDOWNS = (Markdown("MD-EXPIRY", frozenset({_gtin14(ONIGIRI), _gtin14(MILK)}), Fraction("0.2")),)


def policy(open_: frozenset[str] = KNOWN_OPEN) -> Policy:
    """The offline policy the catalog sends: tight caps, so a few items reach them."""
    if "offline_policy" in open_:
        return Policy(member_prices=True, max_sale_total=30000, max_coupon_value=1000)
    return Policy(member_prices=False, max_sale_total=2000, max_coupon_value=50)


def records(open_: frozenset[str] = KNOWN_OPEN) -> list[dict[str, Any]]:
    """The catalog lines (docs/catalog.md), version 1."""
    rates = _rates(open_)
    order_id = coupon_id(COUPON_ORDER, open_)
    products = [
        {"gtin": TEA, "name": "Green tea 500ml", "price": 150, "member_price": 140, "tax_rate": rates[TEA][0],
         "department": "drinks"},
        {"gtin": ONIGIRI, "name": "Salmon onigiri", "price": 160, "tax_rate": rates[ONIGIRI][0],
         "department": "food"},
        {"gtin": BEER, "name": "Craft beer 350ml", "price": 298, "tax_rate": rates[BEER][0], "age_restricted": True,
         "department": "alcohol"},
        {"gtin": BATTERIES, "name": "AA batteries x4", "price": 498, "tax_rate": rates[BATTERIES][0],
         "department": "household"},
        {"gtin": MILK, "name": "Milk 1l", "price": 220, "member_price": 198, "tax_rate": rates[MILK][0],
         "department": "drinks"},
        {"gtin": BEEF, "name": "Wagyu beef", "price": 398, "unit": "100g", "tax_rate": rates[BEEF][0],
         "department": "deli"},
        {"gtin": SNACK, "name": "Seaweed snack", "price": 120, "tax_rate": rates[SNACK][0], "sale_stop": True},
        {"gtin": deli_lookup_gtin(), "name": "Deli bento", "price": 0, "tax_rate": "0.08", "department": "deli"},
    ]
    rules = policy(open_)
    others: list[dict[str, Any]] = [
        {"kind": "promotion", "id": "P-ONIGIRI-2FOR300", "type": "bundle", "quantity": 2, "price": 300,
         "gtins": [ONIGIRI]},
        {"kind": "promotion", "id": "MD-EXPIRY", "type": "expiry_markdown", "percent": "0.2",
         "gtins": [ONIGIRI, MILK]},
        *({"kind": "member", "id": member, "tier": tier, "points": points, "consent_interest": True}
          for member, (tier, points) in MEMBERS.items()),
        {"kind": "coupon", "id": order_id, "amount": 100, "conditions": {"min_spend": 500, "member_only": True},
         "max_uses": 1},
        {"kind": "coupon", "id": COUPON_TEA, "percent": "0.2", "conditions": {"gtins": [TEA], "member_only": True}},
        {"kind": "coupon", "id": COUPON_HOUSE, "percent": "0.5",
         "conditions": {"departments": ["household"], "member_only": True}, "max_uses": 2},
        {"kind": "policy", "key": "payment_kinds", "value": ["card", "cash", "simulated"]},
        {"kind": "policy", "key": "member_prices", "value": rules.member_prices},
        {"kind": "policy", "key": "points_redemption", "value": rules.points_redemption},
        {"kind": "policy", "key": "single_use_coupons", "value": rules.single_use_coupons},
        {"kind": "policy", "key": "max_sale_total", "value": rules.max_sale_total},
        {"kind": "policy", "key": "max_coupon_value", "value": rules.max_coupon_value},
    ]
    return [{**line, "version": 1} for line in products + others]


def coupon_id(name: str, open_: frozenset[str] = KNOWN_OPEN) -> str:
    """The ID the catalog gives a coupon the model calls `name` (renamed so IDs sort item coupons first while
    "coupon_order" is open)."""
    return "C-Z100OFF" if name == COUPON_ORDER and "coupon_order" in open_ else name


__all__ = ["BEER", "BATTERIES", "BEEF", "MEMBER", "MEMBER_NO_CONSENT", "NOT_IN_CATALOG", "ONIGIRI", "SNACK", "TEA"]
