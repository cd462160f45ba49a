"""Restricted circulation numbers (prefix 02, 20-29; UPC-A number system 2) read by per-store templates.

Which digits hold the item code and which hold a price, weight or count is decided by each country's GS1
office or by the retailer itself (Japan: in-store marking, PLU or NON-PLU chosen per prefix), so the layout
is data: a 13-character pattern per prefix. biip ships fixed Nordic/German/British rules but none for Japan and
no way to add a store's own, hence this module; biip's GS1 price check digit (GenSpec 7.9.2-7.9.4) is reused.

Pattern letters, one per EAN-13 digit: `P` prefix, `I` item code, `Q` price/weight check digit over the `V`
digits (4 or 5 of them), `V` value, `X` ignored, `C` the GTIN check digit. UPC-A number system 2 reads as
EAN-13 prefix "02" (a UPC-A is an EAN-13 with a leading zero).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from agent.interpret.gtin import check_digit

MEASURES = ("price", "weight", "count", "none")
PATTERN_RE = r"PP[IQVX]{10}C"


class RcnError(StrEnum):
    NO_TEMPLATE = "rcn_no_template"
    BAD_PRICE_CHECK = "rcn_bad_price_check"


@dataclass(frozen=True, slots=True)
class RcnTemplate:
    """One layout for the codes starting with any of `prefixes` (two digits each)."""

    name: str
    prefixes: tuple[str, ...]
    pattern: str
    measure: str = "price"  # price: minor units; weight: grams; count: pieces; none: item code only
    scale: int = 1          # the digits times `scale` give the unit above (e.g. 10 for a 10 g resolution)


@dataclass(frozen=True, slots=True)
class RcnValue:
    """What an RCN says: the item, the catalog key to look it up by, and the embedded measure."""

    template: str
    item_code: str
    lookup_gtin14: str      # the code with its value digits zeroed, check digits recomputed
    measure: str
    value: int | None       # None when measure is "none"


def template_problem(template: RcnTemplate) -> str | None:
    """Why a (custom) template cannot be used, or None; config parsing reports it with the key."""
    if not re.fullmatch(PATTERN_RE, template.pattern):
        return f"pattern {template.pattern!r} must be 13 letters: PP, then I/Q/V/X, ending in C"
    if "V" in template.pattern and "V" * template.pattern.count("V") not in template.pattern:
        return "the V digits must be next to each other"
    values = template.pattern.count("V")
    checks = template.pattern.count("Q")
    if template.measure not in MEASURES:
        return f"measure {template.measure!r} is not one of {', '.join(MEASURES)}"
    if (template.measure == "none") != (values == 0):
        return "a template has V digits exactly when its measure is not \"none\""
    if checks > 1 or (checks == 1 and values not in (4, 5)):
        return "a Q check digit needs exactly 4 or 5 V digits (GS1 General Specifications 7.9.3/7.9.4)"
    if not template.prefixes or any(not re.fullmatch(r"02|2[0-9]", p) for p in template.prefixes):
        return "prefixes must be two-digit restricted circulation prefixes: \"02\" or \"20\" to \"29\""
    if template.scale < 1:
        return "scale must be a positive integer"
    return None


def _set(*templates: RcnTemplate) -> Mapping[str, RcnTemplate]:
    return {prefix: t for t in templates for prefix in t.prefixes}


# Built-in sets, chosen by `[interpret] rcn_templates`. Retailers differ: these are common layouts, not law;
# a store overrides any prefix with `[[interpret.rcn]]` entries.
BUILTIN: Mapping[str, Mapping[str, RcnTemplate]] = {
    # Japan, in-store marking: 02 = NON-PLU with a 5-digit yen price; 20-24 PLU (item code, price from the
    # catalog); 25-29 NON-PLU with a 4-digit price guarded by its price check digit.
    "jp": _set(
        RcnTemplate("jp-nonplu-5", ("02",), "PPIIIIIVVVVVC", "price"),
        RcnTemplate("jp-plu", ("20", "21", "22", "23", "24"), "PPIIIIIIIIIIC", "none"),
        RcnTemplate("jp-nonplu-4q", ("25", "26", "27", "28", "29"), "PPIIIIIQVVVVC", "price"),
    ),
    # A generic GS1 layout as GS1 Germany publishes it: item 4 digits, a price check digit, 5 value digits.
    "gs1": _set(
        RcnTemplate("gs1-price", ("02", "21", "22", "23", "24"), "PPIIIIQVVVVVC", "price"),
        RcnTemplate("gs1-count", ("25", "26"), "PPIIIIQVVVVVC", "count"),
        RcnTemplate("gs1-weight", ("27", "28", "29"), "PPIIIIQVVVVVC", "weight"),
        RcnTemplate("gs1-plu", ("20",), "PPIIIIIIIIIIC", "none"),
    ),
    # Sweden/Norway (as biip documents them): no price check digit, 4 value digits.
    "se": _set(
        RcnTemplate("se-price", ("20", "21", "22"), "PPIIIIIIVVVVC", "price"),
        RcnTemplate("se-weight", ("23",), "PPIIIIIIVVVVC", "weight"),
    ),
}


def templates_for(set_name: str, custom: tuple[RcnTemplate, ...] = ()) -> Mapping[str, RcnTemplate]:
    """The prefix → template map: a built-in set (or "none") with custom templates taking precedence."""
    merged = dict(BUILTIN.get(set_name, {}))
    merged.update(_set(*custom))
    return merged


def _span(pattern: str, letter: str) -> slice:
    return slice(pattern.find(letter), pattern.rfind(letter) + 1)


def parse(ean13: str, templates: Mapping[str, RcnTemplate]) -> RcnValue | RcnError:
    """Read a checked 13-digit RCN with the template for its prefix."""
    template = templates.get(ean13[:2])
    if template is None:
        return RcnError.NO_TEMPLATE
    pattern = template.pattern
    values = _span(pattern, "V") if "V" in pattern else None
    digits = values and ean13[values]
    if digits and "Q" in pattern and gs1_price_weight_check_digit(digits) != int(ean13[pattern.find("Q")]):
        return RcnError.BAD_PRICE_CHECK
    item = "".join(d for d, p in zip(ean13, pattern, strict=True) if p == "I")
    return RcnValue(template=template.name, item_code=item, lookup_gtin14=_zeroed(ean13, pattern, values),
                    measure=template.measure, value=int(digits) * template.scale if digits else None)


@functools.cache
def _price_check_function() -> Callable[[str], int]:
    """biip's GS1 price/weight check digit, imported on first use (importing biip costs ~17 MB; see gs1.py)."""
    from biip.checksums import gs1_price_weight_check_digit

    return gs1_price_weight_check_digit


def gs1_price_weight_check_digit(digits: str) -> int:
    return _price_check_function()(digits)


def _zeroed(ean13: str, pattern: str, values: slice | None) -> str:
    """The catalog key: value digits (and their check digit) zeroed, GTIN check digit recomputed."""
    if values is None:
        return "0" + ean13
    chars = list(ean13[:12])
    width = values.stop - values.start
    chars[values] = "0" * width
    if "Q" in pattern:
        chars[pattern.find("Q")] = str(gs1_price_weight_check_digit("0" * width))
    body = "".join(chars)
    return "0" + body + str(check_digit(body))
