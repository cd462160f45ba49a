"""The pricing engine's inputs and outputs: plain frozen values, independent of the catalog's records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class LineInput:
    line_id: str
    gtin: str
    name: str
    quantity: int
    unit_price: int                     # minor units; tax-inclusive or not as TaxConfig.mode says
    member_price: int | None
    tax_rate: str                       # decimal string, "0.08"
    department: str | None = None
    fixed_amount: int | None = None     # weighed or price-embedded: the label's amount for the whole line
    position: int = 0                   # scan order, for display only: nothing depends on it
    expiry: str | None = None           # the label's expiry (ISO date), for the expiry-day markdown
    scanned_on: str | None = None       # the store's date when the unit was scanned (ISO)


@dataclass(frozen=True, slots=True)
class PromotionRule:
    promo_id: str
    type: str                           # bundle | percent | amount | expiry_markdown (percent or amount per unit)
    quantity: int                       # bundle: the set size; percent and amount: the minimum units
    bundle_price: int | None = None
    percent: str | None = None
    amount: int | None = None           # off each unit
    member_only: bool = False
    gtins: frozenset[str] = frozenset()
    stacks: bool = False
    days_before: int = 0                # expiry_markdown: from this many days before the label's expiry


@dataclass(frozen=True, slots=True)
class CouponRule:
    coupon_id: str
    amount: int | None = None
    percent: str | None = None
    min_spend: int | None = None
    gtins: frozenset[str] = frozenset()          # empty: any item
    departments: frozenset[str] = frozenset()    # empty: any department
    member_only: bool = False
    max_saving: int | None = None                # the offline policy's cap on what one coupon takes off


@dataclass(frozen=True, slots=True)
class TaxConfig:
    mode: str = "inclusive"             # inclusive | exclusive
    rounding: str = "down"              # down | half_up | up


@dataclass(frozen=True, slots=True)
class PointsRule:
    basis: str = "tax_inclusive"        # tax_inclusive | pre_tax
    earning: str = "per_unit"           # per_unit: full units, then the multiplier | proportional
    unit: int = 100
    points_per_unit: int = 1
    rounding: str = "down"
    tier_multipliers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PricedLine:
    line_id: str
    gtin: str
    quantity: int
    unit_price: int
    gross: int                          # before any discount
    net: int                            # after every discount allocated to it
    tax_rate: str


@dataclass(frozen=True, slots=True)
class Discount:
    discount_id: str
    kind: str                           # member_price | markdown | promotion | coupon
    source_id: str | None
    label: str
    amount: int
    refers_to: tuple[tuple[str, int], ...]   # (line_id, amount) adding up to `amount`


@dataclass(frozen=True, slots=True)
class RateTotal:
    rate: str
    total: int                          # what the shopper pays for this rate's lines, tax included
    taxable_base: int                   # the same without tax
    tax: int                            # rounded once for the whole receipt


@dataclass(frozen=True, slots=True)
class CouponOutcome:
    coupon_id: str
    applied: bool
    reason: str | None = None           # min_spend_not_met | no_eligible_items | member_only


@dataclass(frozen=True, slots=True)
class PricedBasket:
    lines: tuple[PricedLine, ...]
    discounts: tuple[Discount, ...]
    rates: tuple[RateTotal, ...]
    subtotal: int
    discount_total: int
    total: int
    tax_total: int
    coupons: tuple[CouponOutcome, ...]
    points_earned: int
    points_redeemed: int
    amount_due: int
