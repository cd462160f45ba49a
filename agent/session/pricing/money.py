"""Exact money arithmetic: decimal rates as fractions, one rounding function, and an exact proportional split.

Why fractions: a tax rate or a percent is a decimal string ("0.08", "0.2"); as a float it is not exact, and
one yen off on a receipt is a wrong receipt. Every amount stays an `int` of minor units; a fraction exists
only between a multiplication and its one rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

ROUNDING_MODES = ("down", "half_up", "up")


def rate(text: str) -> Fraction:
    """'0.08' -> Fraction(2, 25), exactly."""
    return Fraction(text)


def round_money(value: Fraction, mode: str = "down") -> int:
    """Round a non-negative amount once: `down` (toward zero), `half_up`, or `up`."""
    if mode == "down":
        return value.numerator // value.denominator
    if mode == "up":
        return -((-value.numerator) // value.denominator)
    if mode == "half_up":
        return (2 * value.numerator + value.denominator) // (2 * value.denominator)
    raise ValueError(f"unknown rounding mode {mode!r}; use one of {ROUNDING_MODES}")


def weighed_amount(price: int, per_grams: int, weight_g: Decimal) -> int:
    """`price` per `per_grams` grams times the exact weight, rounded down once (never charge for a fraction).

    The weight is exact (a label's 123.5 g stays 123.5 g): rounding it to a gram first would be a second
    rounding, and half the time one in the store's favour.
    """
    return round_money(Fraction(price) * Fraction(weight_g) / per_grams, "down")


def split(total: int, weights: Sequence[tuple[str, int]]) -> dict[str, int]:
    """`total` shared in proportion to the weights by the largest remainder method; the shares add up exactly.

    Ties in the remainders go to the key that sorts first, so the split never depends on the input's order.
    No share exceeds its weight while `total` does not exceed the weights' sum.
    """
    whole = sum(w for _, w in weights)
    if total <= 0 or whole <= 0:
        return {key: 0 for key, _ in weights}
    shares: dict[str, int] = {}
    remainders: list[tuple[int, str]] = []
    for key, weight in weights:
        share, remainder = divmod(total * weight, whole)
        shares[key] = share
        remainders.append((-remainder, key))
    for _, key in sorted(remainders)[: total - sum(shares.values())]:
        shares[key] += 1
    return shares
