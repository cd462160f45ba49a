"""An independent reference model of a visit's money, written from docs/session.md, docs/catalog.md and
docs/payment.md and NOT from the pricing engine, so the stateful test (simulators/trials/money_model.py) has a second
opinion to hold the engine to.

Why a second implementation: a property that only compares the engine with itself cannot see a rule the engine
gets wrong everywhere (a tax grouped by a rate's spelling, a member price applied while the offline policy
forbids it). The model is deliberately small: it covers the catalog that simulators/trials/money_model.py sells from
(plain, weighed and price-embedded items, one member price, one "2 for 300" bundle, an expiry-day markdown, item
and order coupons, points) and nothing else, and it says which of its rules it takes from which document.

Money is integers in minor units; rates are exact fractions, so "0.1" and "0.10" are one rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction

GRAMS_PER_UNIT = {"kg": 1000, "100g": 100, "g": 1}


def rate_of(text: str) -> Fraction:
    """A catalog rate ("0.08", "0.080") as the one number it names (docs/catalog.md: decimal strings)."""
    return Fraction(text)


@dataclass(frozen=True, slots=True)
class Item:
    """A product as the model's catalog says (the same lines the lane imports)."""

    gtin: str
    price: int
    rate: Fraction
    member_price: int | None = None
    department: str | None = None
    unit: str | None = None                  # weighed: the price is per this unit
    age_restricted: bool = False
    sale_stop: bool = False


@dataclass(frozen=True, slots=True)
class CouponTerms:
    coupon_id: str
    amount: int | None = None
    percent: Fraction | None = None
    min_spend: int | None = None
    gtins: frozenset[str] = frozenset()
    departments: frozenset[str] = frozenset()
    max_uses: int | None = None

    @property
    def item_level(self) -> bool:
        return bool(self.gtins or self.departments)


@dataclass(frozen=True, slots=True)
class Bundle:
    promo_id: str
    gtin: str
    quantity: int
    price: int


@dataclass(frozen=True, slots=True)
class Markdown:
    """docs/catalog.md `expiry_markdown`: percent off each unit scanned on its label's expiry day (days_before 0)."""

    promo_id: str
    gtins: frozenset[str]
    percent: Fraction


@dataclass(frozen=True, slots=True)
class Policy:
    """docs/catalog.md "Offline policy": what holds while the catalog is stale."""

    member_prices: bool = True
    points_redemption: bool = False
    single_use_coupons: bool = False
    max_sale_total: int = 30000
    max_coupon_value: int = 1000


@dataclass(frozen=True, slots=True)
class Line:
    """One basket line: `fixed` is a weighed or price-embedded label's amount (a line of its own)."""

    key: int
    item: Item
    quantity: int = 1
    fixed: int | None = None
    held: bool = False                       # a unit under an open intervention: never merges (issue: expired)
    expiry: str | None = None                # the label's expiry (ISO date): units of another expiry never merge
    scanned_on: str | None = None            # the store's date at the scan, kept with `expiry`

    @property
    def gross(self) -> int:
        return self.fixed if self.fixed is not None else self.item.price * self.quantity


@dataclass(frozen=True, slots=True)
class Basket:
    lines: tuple[Line, ...] = ()
    member: str | None = None
    coupons: tuple[str, ...] = ()
    points: int = 0                          # points the shopper asked to redeem
    next_key: int = 1


@dataclass(frozen=True, slots=True)
class RateRow:
    rate: Fraction
    total: int
    tax: int


@dataclass(frozen=True, slots=True)
class Totals:
    subtotal: int
    total: int
    rates: tuple[RateRow, ...]
    points_redeemed: int
    amount_due: int
    member_discount: int
    coupon_values: dict[str, int] = field(default_factory=dict)
    # False when largest-remainder ties between lines of different rates leave the per-rate split open
    # (docs/session.md does not say how ties break): the rate rows are then not compared, the total still is.
    rates_exact: bool = True


def weighed_amount(item: Item, weight_g: Fraction) -> int:
    """docs/session.md: a per-kg or per-100 g price times the label's weight, rounded down (once, in yen)."""
    return int(item.price * weight_g / GRAMS_PER_UNIT[item.unit or "g"])


def add_unit(basket: Basket, item: Item, *, fixed: int | None = None, held: bool = False,
             expiry: str | None = None, scanned_on: str | None = None) -> tuple[Basket, Line]:
    """The same item again adds to its line; labels with their own amount, held units, and units of another
    expiry (docs/session.md "Lots and dates") are lines of their own."""
    if fixed is None and not held:
        for line in basket.lines:
            if (line.item.gtin == item.gtin and line.fixed is None and not line.held
                    and (line.expiry, line.scanned_on) == (expiry, scanned_on)):
                grown = replace(line, quantity=line.quantity + 1)
                return _with(basket, grown), grown
    line = Line(basket.next_key, item, 1, fixed, held, expiry, scanned_on)
    return replace(basket, lines=(*basket.lines, line), next_key=basket.next_key + 1), line


def merge_target(basket: Basket, item: Item) -> Line | None:
    return next((line for line in basket.lines if line.item.gtin == item.gtin and line.fixed is None
                 and not line.held and line.expiry is None), None)


def remove(basket: Basket, key: int) -> Basket:
    return replace(basket, lines=tuple(line for line in basket.lines if line.key != key))


def release(basket: Basket, key: int) -> Basket:
    """Staff approved the held unit: it is an ordinary line from now on."""
    return _with(basket, *[replace(line, held=False) for line in basket.lines if line.key == key])


def _with(basket: Basket, *changed: Line) -> Basket:
    by_key = {line.key: line for line in changed}
    return replace(basket, lines=tuple(by_key.get(line.key, line) for line in basket.lines))


def largest_remainder(total: int, weights: dict[int, int]) -> tuple[dict[int, int], set[frozenset[int]]]:
    """Split `total` in proportion to `weights`; also the groups of keys whose tie decided a unit."""
    whole = sum(weights.values())
    if whole <= 0 or total <= 0:
        return {k: 0 for k in weights}, set()
    exact = {k: Fraction(total * w, whole) for k, w in weights.items()}
    shares = {k: int(v) for k, v in exact.items()}
    left = total - sum(shares.values())
    order = sorted(weights, key=lambda k: exact[k] - shares[k], reverse=True)
    ties: set[frozenset[int]] = set()
    if 0 < left < len(order):
        cut = exact[order[left - 1]] - shares[order[left - 1]]
        tied = frozenset(k for k in order if exact[k] - shares[k] == cut)
        if any(order.index(k) >= left for k in tied) and any(order.index(k) < left for k in tied):
            ties.add(tied)
    for k in order[:left]:
        shares[k] += 1
    return shares, ties


def tax_of(total: int, rate: Fraction) -> int:
    """docs/session.md "Tax": inclusive mode, rounded down, once per rate per receipt."""
    return int(Fraction(total) * rate / (1 + rate))


def price(basket: Basket, *, coupons: dict[str, CouponTerms], bundles: tuple[Bundle, ...], stale: bool,
          policy: Policy, used_up: frozenset[str] = frozenset(), by_id: bool = False,
          spend_after_coupons: bool = False, markdowns: tuple[Markdown, ...] = ()) -> Totals:
    """The visit's money in the documented order: member price, expiry-day markdown, promotions, coupons, tax,
    points.

    `by_id` applies the coupons in their IDs' alphabetical order instead, and `spend_after_coupons` judges a
    minimum spend on what earlier coupons left: not rules, the wrong answers the machine compares with to name
    what it sees (the coupons' order decided otherwise than documented)."""
    amounts = {line.key: line.gross for line in basket.lines}
    member_discount = 0
    if basket.member is not None and (not stale or policy.member_prices):
        for line in basket.lines:
            if line.fixed is None and line.item.member_price is not None:
                cut = (line.item.price - line.item.member_price) * line.quantity
                amounts[line.key] -= cut
                member_discount += cut
    marked = _markdown(basket, markdowns, amounts)
    for bundle in bundles:
        _bundle(basket, bundle, amounts, marked)
    after_promotions = dict(amounts)
    cap = policy.max_coupon_value if stale else None
    values: dict[str, int] = {}
    ties: set[frozenset[int]] = set()
    # Item coupons first, then order coupons; each coupon's minimum spend is judged on its eligible lines'
    # amounts after promotions, before any coupon (docs/session.md "Coupons"), so the IDs never decide.
    chosen = sorted((coupons[c] for c in basket.coupons if c in coupons and c not in used_up),
                    key=lambda t: (False, t.coupon_id) if by_id else (not t.item_level, t.coupon_id))
    for terms in chosen:
        eligible = [line for line in basket.lines if _eligible(line, terms)]
        base = sum((amounts if spend_after_coupons else after_promotions)[line.key] for line in eligible)
        if not eligible or (terms.min_spend is not None and base < terms.min_spend):
            continue
        left = {line.key: amounts[line.key] for line in eligible}
        value = terms.amount if terms.amount is not None else int((terms.percent or 0) * sum(left.values()))
        value = min(value, sum(left.values()), cap if cap is not None else value)
        shares, tie = largest_remainder(value, left)
        ties |= tie
        for key, share in shares.items():
            amounts[key] -= share
        values[terms.coupon_id] = value
    rates: dict[Fraction, int] = {}
    for line in basket.lines:
        rates[line.item.rate] = rates.get(line.item.rate, 0) + amounts[line.key]
    rows = tuple(RateRow(rate, total, tax_of(total, rate)) for rate, total in sorted(rates.items()))
    total = sum(amounts.values())
    # docs/catalog.md, `points_redemption`: while stale a redemption is refused, and one made before is not applied.
    redeemed = 0 if stale and not policy.points_redemption else min(basket.points, total)
    rate_of_key = {line.key: line.item.rate for line in basket.lines}
    exact = all(len({rate_of_key[k] for k in group}) == 1 for group in ties)
    return Totals(subtotal=sum(line.gross for line in basket.lines), total=total, rates=rows,
                  points_redeemed=redeemed, amount_due=total - redeemed, member_discount=member_discount,
                  coupon_values=values, rates_exact=exact)


def _markdown(basket: Basket, markdowns: tuple[Markdown, ...], amounts: dict[int, int]) -> set[int]:
    """docs/session.md "Pricing", step 2: on the expiry day, each unit's price after the member price less the
    best markdown's percent of it, rounded down per unit. Returns the marked-down lines (they form no bundle)."""
    marked = set()
    for line in basket.lines:
        if line.expiry is None or line.expiry != line.scanned_on:
            continue
        units = 1 if line.fixed is not None else line.quantity
        unit = amounts[line.key] // units
        cut = max((int(unit * m.percent) for m in markdowns if line.item.gtin in m.gtins), default=0)
        if cut:
            amounts[line.key] -= cut * units
            marked.add(line.key)
    return marked


def _bundle(basket: Basket, bundle: Bundle, amounts: dict[int, int], marked: set[int] | frozenset[int] = frozenset(),
            ) -> None:
    """"N for P", once per full set; the rest at their price (docs/session.md, step 3): the most expensive units
    form the sets (ties: scanned first), and a set's saving is shared by its units in proportion to their
    prices, largest remainder, ties to the unit scanned first. One price per GTIN here; a marked-down unit takes
    no bundle."""
    lines = [line for line in basket.lines if line.item.gtin == bundle.gtin and line.fixed is None
             and line.key not in marked]
    units = [(amounts[line.key] // line.quantity, line.key, n) for line in lines for n in range(line.quantity)]
    units.sort(key=lambda unit: (-unit[0], unit[1], unit[2]))
    for start in range(0, len(units) - len(units) % bundle.quantity, bundle.quantity):
        group = units[start:start + bundle.quantity]
        saving = sum(price for price, _, _ in group) - bundle.price
        if saving <= 0:
            continue
        shares, _ties = largest_remainder(saving, {i: price for i, (price, _, _) in enumerate(group)})
        for i, (_, key, _) in enumerate(group):
            amounts[key] -= shares[i]


def _eligible(line: Line, terms: CouponTerms) -> bool:
    if terms.gtins and line.item.gtin not in terms.gtins:
        return False
    return not (terms.departments and line.item.department not in terms.departments)


def points_earned_options(paid: int, unit: int, per_unit: int, multiplier: Fraction) -> set[int]:
    """Both readings of the earning rule the docs leave open: floor(paid x m / unit) and floor(paid / unit) x m."""
    return {int(Fraction(paid) * multiplier / unit) * per_unit, int(paid // unit * per_unit * multiplier)}
