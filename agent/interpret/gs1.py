"""GS1 element strings (GS1-128, DataBar, DataMatrix, QR) and GS1 Digital Link URIs, reduced to what a sale needs.

biip does the AI table, the per-AI patterns, dates (DD = 00 means the month's last day) and decimals, and
Digital Link path/query parsing on any domain. Written here: repairing what keyboard wedges and scanner
settings do to the FNC1/GS separator, recovering an expiry date swallowed by a variable-length field when the
separator was lost, and turning weights into exact grams (a Decimal) and amounts into minor units.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

GS = "\x1d"
# Stand-ins for GS seen from scanners and wedges. None of these characters is in the GS1 AI encodable
# character set 82 (GenSpec 7.11, figure 7.11-1) except inside the multi-character tokens, so they cannot be
# data: "^]" is how a US-layout wedge types Ctrl+], U+241D is the printable "GS" symbol, "~" and "|" are
# common scanner replacement settings, and the bracketed tokens come from "transmit control characters" modes.
# ESC: a scanner sending Ctrl+] as US key codes to a host with a JIS layout, where that key is "[", so the host
# sees Ctrl+[ = ESC.
DEFAULT_SUBSTITUTES = ("<GS>", "{GS}", "[GS]", "<FNC1>", "^]", "\u241d", "\x1b", "~", "|")
_AIM_GS1 = re.compile(r"^\](C1|e0|e1|e2|d2|Q3|J1)")
_TAIL_DATE = re.compile(r"(1[57])(\d\d(0[1-9]|1[0-2])(0[0-9]|[12]\d|3[01]))$")


@functools.cache
def _biip() -> Any:
    """biip, imported on the first GS1 scan: importing it costs about 17 MB and 70 ms (its AI and prefix
    tables), which a lane that never sees a GS1 code should not pay at start (idle RSS target: 60 MB)."""
    import biip
    import biip.gs1_digital_link_uris
    import biip.gs1_messages

    return biip


@functools.cache
def _config() -> Any:
    return _biip().ParseConfig(separator_chars=(GS,))
_POUND_G = Decimal("453.59237")
_NUMERIC_AIS = frozenset({"11", "13", "15", "17", "30", "8008", "310", "320", "392", "393"})


class Gs1Error(StrEnum):
    MALFORMED = "gs1_malformed"
    BAD_GTIN = "gs1_bad_gtin"
    NOT_DIGITAL_LINK = "not_gs1_digital_link"


@dataclass(frozen=True, slots=True)
class Gs1Data:
    """The element strings of one scan, with the fields a sale acts on pulled out."""

    elements: tuple[tuple[str, str], ...]      # (AI, value) in scan order
    gtin14: str | None = None                  # AI 01, else AI 02 (contents of a logistic unit)
    sscc: str | None = None                    # AI 00
    batch: str | None = None                   # AI 10, kept for recall checks
    serial: str | None = None                  # AI 21
    expiry: date | None = None                 # AI 17
    best_before: date | None = None            # AI 15
    production: date | None = None             # AI 11 (or 8008's date)
    packaging: date | None = None              # AI 13
    count: int | None = None                   # AI 30
    net_weight_g: Decimal | None = None        # AI 310x (kg) or 320x (lb), in grams, exact (never rounded)
    price: Decimal | None = None               # AI 392x, or 393x's amount
    price_currency: str | None = None          # AI 393x: ISO 4217 numeric code
    separator_repaired: bool = False           # an expiry date was split off a field that swallowed it


def clean(text: str, substitutes: tuple[str, ...] = DEFAULT_SUBSTITUTES) -> str:
    """Strip an AIM prefix and FNC1-in-first-position, turn separator stand-ins into GS."""
    text = _AIM_GS1.sub("", text.strip())
    for token in substitutes:
        if token in text:
            text = text.replace(token, GS)
    return text.strip(GS)


def parse_element_strings(text: str, substitutes: tuple[str, ...] = DEFAULT_SUBSTITUTES) -> Gs1Data | Gs1Error:
    """Parse a GS1 element string, raw (GS-separated) or in HRI form "(01)...(17)..."."""
    text = clean(text, substitutes)
    try:
        if text.startswith("("):
            message = _biip().gs1_messages.GS1Message.parse_hri(text, config=_config())
        else:
            message = _biip().gs1_messages.GS1Message.parse(text, config=_config())
    except Exception:   # biip raises ParseError, and ValueError/IndexError on some malformed input
        return Gs1Error.MALFORMED
    elements = [(e.ai.ai, e.value) for e in message.element_strings]
    repaired = False
    if GS not in text and not text.startswith("("):
        elements, repaired = _split_swallowed_date(elements)
    return _reduce(elements, message.element_strings, repaired)


def parse_digital_link(uri: str) -> Gs1Data | Gs1Error:
    """Parse a GS1 Digital Link URI (id.gs1.org or a brand's own domain); uncompressed form only."""
    try:
        link = _biip().gs1_digital_link_uris.GS1DigitalLinkURI.parse(uri.strip(), config=_config())
    except Exception:
        return Gs1Error.NOT_DIGITAL_LINK
    return _reduce([(e.ai.ai, e.value) for e in link.element_strings], link.element_strings, False)


def _split_swallowed_date(elements: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], bool]:
    """Without separators, "10LOT17261231" reads as one lot; GS1 puts dates first for this reason, but labels
    are not always right. An expiry is what blocks a sale, so a lot/serial that ends in a valid AI 15/17 date
    is split (a lot really ending in such digits is far less likely than a lost separator)."""
    if not elements or elements[-1][0] not in ("10", "21"):
        return elements, False
    ai, value = elements[-1]
    match = _TAIL_DATE.search(value)
    if match is None or match.start() == 0:
        return elements, False
    return [*elements[:-1], (ai, value[:match.start()]), (match.group(1), match.group(2))], True


def _date(value: str) -> date | None:
    if len(value) != 6:
        return None
    year, month, day = 2000 + int(value[:2]), int(value[2:4]), int(value[4:6])
    if year - 2000 >= 51:    # GenSpec 7.12: a two-digit year 51-99 ahead of now is last century
        year -= 100
    try:
        if day == 0:
            following = date(year + month // 12, month % 12 + 1, 1)
            return date.fromordinal(following.toordinal() - 1)
        return date(year, month, day)
    except ValueError:
        return None


def _reduce(elements: list[tuple[str, str]], parsed: Any, repaired: bool) -> Gs1Data | Gs1Error:
    fields: dict[str, Any] = {}
    for element in parsed:
        if element.ai.ai in ("01", "02", "00") and (element.gtin_error or element.sscc_error):
            return Gs1Error.BAD_GTIN
    for ai, value in elements:
        if ai in _NUMERIC_AIS or ai[:3] in _NUMERIC_AIS:
            if not (value.isascii() and value.isdigit()) or (ai[:3] == "393" and len(value) <= 3):
                return Gs1Error.MALFORMED
        _take(fields, ai, value)
    return Gs1Data(elements=tuple(elements), separator_repaired=repaired, **fields)


def _take(fields: dict[str, Any], ai: str, value: str) -> None:
    """Pick one element into the named fields (first occurrence wins, as biip's `get` does)."""
    simple = {"00": "sscc", "10": "batch", "21": "serial"}
    dated = {"11": "production", "13": "packaging", "15": "best_before", "17": "expiry"}
    if ai in simple:
        fields.setdefault(simple[ai], value)
    elif ai in dated:
        fields.setdefault(dated[ai], _date(value))
    elif ai == "8008":
        fields.setdefault("production", _date(value[:6]))
    elif ai in ("01", "02") and "gtin14" not in fields:
        fields["gtin14"] = value
    elif ai == "30":
        fields.setdefault("count", int(value))
    elif ai[:3] in ("310", "320") and len(ai) == 4:
        # Exact: six digits times 453.59237 fit the default 28-digit context, and pricing rounds the amount
        # once; rounding the weight to a gram first charged 123.5 g as 124 g.
        kilos_or_pounds = Decimal(value).scaleb(-int(ai[3]))
        grams = kilos_or_pounds * (1000 if ai[:3] == "310" else _POUND_G)
        fields.setdefault("net_weight_g", grams)
    elif ai[:3] == "392" and len(ai) == 4:
        fields.setdefault("price", Decimal(value).scaleb(-int(ai[3])))
    elif ai[:3] == "393" and len(ai) == 4:
        fields.setdefault("price", Decimal(value[3:]).scaleb(-int(ai[3])))
        fields.setdefault("price_currency", value[:3])


def expired(data: Gs1Data, today: date) -> bool:
    """True when AI 17 says the item may no longer be sold (the date itself is still a valid day)."""
    return data.expiry is not None and data.expiry < today
