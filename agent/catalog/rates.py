"""The one spelling of a tax rate: "0.1", "0.10" and "0.100" are one rate, written "0.10".

Why: rates are decimal strings (exact, unlike floats), and anything that groups or compares them as strings
treats two spellings of one rate as two rates: two roundings of the tax, two rows on the receipt, a reduced
rate that loses its mark. The catalog stores the canonical form from the moment a line is read, and the
pricing engine and the receipt canonicalise again, so a spelling from anywhere (an old generation, a
suspended basket) cannot split a rate. Pure: no I/O, safe to import from any layer above the catalog.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

# Rates the catalog accepts: from 0 to 1 inclusive, at most 6 decimals ("0", "0.08", "0.10", "1").
RATE = re.compile(r"0(\.\d{1,6})?|1(\.0{1,6})?")
_HUNDREDTHS = Decimal("0.01")


@lru_cache(maxsize=256)
def canonical_rate(text: str) -> str:
    """The canonical spelling of a decimal rate: trailing zeros dropped, at least two decimals kept.

    "0.1" -> "0.10", "0.080" -> "0.08", "0" -> "0.00", "0.075" -> "0.075". Raises ValueError for text that is
    not a finite decimal number.
    """
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a decimal rate") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a decimal rate")
    value = value.normalize()
    if value.as_tuple().exponent > -2:    # type: ignore[operator]  # finite: an int exponent
        value = value.quantize(_HUNDREDTHS)
    return format(value, "f")


# Japan's reduced consumption-tax rate (food, newspapers): items at it are marked ※ on the receipt.
REDUCED_RATES = frozenset({"0.08"})


def is_reduced(rate: str) -> bool:
    """Whether `rate`, however it is spelled, is a reduced rate (the receipt's ※)."""
    try:
        return canonical_rate(rate) in REDUCED_RATES
    except ValueError:
        return False
