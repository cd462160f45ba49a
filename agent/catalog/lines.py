"""Pure parsing and validation of catalog lines (JSON Lines, docs/catalog.md) into rows for the schema.

Every line is checked before anything is written, and a refusal names the line number, the field and the
fix, so the cloud team can find and correct the record. The schema is typed and closed: money is whole
minor units, rates are canonical, units come from a closed list, coupon conditions and policy values are
typed, and an unknown field or kind is refused (a typo must not be silently dropped, and a new field needs
an agent that knows what it means).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from typing import Any, NamedTuple

from agent.catalog.conditions import coupon_conditions, policy_value
from agent.catalog.fields import (
    CatalogLineError,
    bool_field,
    gtin14,
    gtin_list,
    int_field,
    known_fields,
    names_field,
    rate_field,
    refuse,
    req_int,
    str_field,
    text_field,
    window,
)

MAX_LINE_BYTES = 1 << 20


def _json_loads(raw: bytes) -> Any:
    return _json_decode(raw.decode())


_json_decode = json.JSONDecoder().decode
_loads: Callable[[bytes], Any] = _json_loads
try:   # orjson parses a catalog line 3x faster than json, which stays as the fallback
    import orjson
    _loads = orjson.loads
except ImportError:  # pragma: no cover - orjson is a dependency; kept for boxes without its wheel
    pass


class Record(NamedTuple):
    """One validated line: the row for its kind's table, plus child rows (promotion GTINs, member cards)."""

    kind: str
    key: str
    version: int
    row: tuple[Any, ...]
    children: tuple[tuple[Any, ...], ...] = ()


class Trailer(NamedTuple):
    version: int
    records: int                # the line's "count"
    sha256: str


class DeltaHeader(NamedTuple):
    base: int
    version: int


class Delete(NamedTuple):
    of: str
    key: str
    version: int
    lot: str | None = None      # a sale stop's lot: its key is (GTIN `key`, lot)


# Units a lane can sell by measure: a per-unit price times the scale label's weight (GS1 AI 310n, in-store
# weight codes). Volume (l, 100ml; GS1 AI 315n) is refused: no scale or label on a lane reports a volume.
UNITS = ("kg", "100g", "g")
_UNITS = frozenset(UNITS)
# Tax rates already found valid, as spelled -> canonical: a catalog uses a handful, each checked once.
_RATES_SEEN: dict[str, str] = {}
_COMMON = ("kind", "version")
FIELDS: dict[str, frozenset[str]] = {kind: frozenset((*_COMMON, *names)) for kind, names in {
    "product": ("gtin", "name", "names", "price", "tax_rate", "member_price", "department", "age_restricted",
                "sale_stop", "deposit", "unit", "weight_g", "weight_tolerance_g", "weight_exempt"),
    "price": ("gtin", "from", "to", "price", "member_price"),
    "promotion": ("id", "type", "quantity", "price", "percent", "amount", "gtins", "member_only", "from", "to",
                  "days_before"),
    "coupon": ("id", "amount", "percent", "conditions", "max_uses", "from", "to"),
    "member": ("id", "tier", "status", "points", "cards", "consent_interest", "since", "audits", "audit_findings",
               "receipt"),
    "order": ("id", "member", "items", "status", "locker"),
    "key": ("kid", "public_key", "from", "to"),
    "policy": ("key", "value"),
    "sale_stop": ("gtin", "lot", "reason", "message", "message_ja"),
    "delete": ("of", "id", "lot"),
    "trailer": ("count", "sha256"),
    "delta": ("base",),
}.items()}
_PRODUCT_FIELDS = FIELDS["product"]
_PRODUCT_PLAIN = _PRODUCT_FIELDS - {"names"}     # the hot path's fields; names are checked off it
# A promotion's type decides which of its amount fields it may carry: "percent" with "amount" is a mistake.
_PROMOTION_AMOUNTS = {"bundle": "price", "percent": "percent", "amount": "amount"}
# The expiry-day markdown takes one of percent or amount, on the label's expiry day or up to this many days before.
MARKDOWN = "expiry_markdown"
MAX_DAYS_BEFORE = 1
ALL_ITEMS = "*"             # a markdown without gtins covers every item: its one promotion_items row
# An AI 10 lot as GS1 allows it: 1 to 20 characters of the GS1 character set 82 (or "*": every lot).
LOT = re.compile(r"[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}")
_ORDER_ITEM = frozenset(("gtin", "qty"))
MAX_WEIGHT_G = 100_000      # a unit's weight in the bag: a bagging-area scale weighs at most tens of kilograms


def _product(d: dict[str, Any], line: int, version: int) -> Record:
    """The hot path of a million-line import: one flat check; anything unusual goes to `_product_checked`."""
    gtin = gtin14(d.get("gtin"), line)
    name, price, rate = d.get("name"), d.get("price"), d.get("tax_rate")
    member, deposit, unit, department = d.get("member_price"), d.get("deposit", 0), d.get("unit"), d.get("department")
    age, stop = d.get("age_restricted", False), d.get("sale_stop", False)
    weight, tolerance, exempt = d.get("weight_g"), d.get("weight_tolerance_g"), d.get("weight_exempt", False)
    if (type(name) is str and 0 < len(name) <= 1000 and not name.isspace() and type(price) is int and price >= 0
            and type(rate) is str and rate in _RATES_SEEN and (member is None or (type(member) is int and member >= 0))
            and deposit == 0 and type(deposit) is int and type(age) is bool and type(stop) is bool
            and (unit is None or (type(unit) is str and unit in _UNITS))
            and (department is None or type(department) is str) and d.keys() <= _PRODUCT_PLAIN
            and (weight is None or (type(weight) is int and 0 < weight <= MAX_WEIGHT_G))
            and (tolerance is None or (type(tolerance) is int and 0 < tolerance <= MAX_WEIGHT_G))
            and type(exempt) is bool):
        return Record("product", gtin, version, (gtin, name, price, _RATES_SEEN[rate], member, department,
                                                 int(age), int(stop), 0, unit, version, None, weight, tolerance,
                                                 int(exempt)))
    return _product_checked(d, line, version, gtin)


def _product_checked(d: dict[str, Any], line: int, version: int, gtin: str) -> Record:
    known_fields(d, _PRODUCT_FIELDS, line, "a product")
    rate = rate_field(d, "tax_rate", line)
    if len(_RATES_SEEN) < 1000:
        _RATES_SEEN[d["tax_rate"]] = rate
    unit = d.get("unit")
    if unit is not None and unit not in _UNITS:
        raise refuse(line, "unit", f"must be kg, 100g or g (or absent: sold by piece), got {unit!r}; a lane prices "
                     "measured items by the weight on the scale's label, and nothing reports a volume",
                     "sell it by piece (leave unit out and give the price per bottle or pack), or by weight")
    department = d.get("department")
    if department is not None and type(department) is not str:
        raise refuse(line, "department", f"must be a string, got {department!r}", 'write e.g. "food"')
    if int_field(d, "deposit", line):
        raise refuse(line, "deposit", f"{d['deposit']} is not charged: this lane has no deposit line, so a "
                     "deposit would be silently left off the sale", "include the deposit in price, or leave "
                     "deposit out (0 means no deposit)")
    names = names_field(d, line)       # stored as JSON (products.names); the screen shows them per language
    row = (gtin, text_field(d, "name", line), req_int(d, "price", line), rate, int_field(d, "member_price", line),
           department, bool_field(d, "age_restricted", line), bool_field(d, "sale_stop", line), 0, unit, version,
           None if names is None else json.dumps(names, ensure_ascii=False, sort_keys=True),
           _grams(d, "weight_g", line), _grams(d, "weight_tolerance_g", line), bool_field(d, "weight_exempt", line))
    return Record("product", gtin, version, row)


def _grams(d: dict[str, Any], key: str, line: int) -> int | None:
    """A unit's weight or tolerance in whole grams, above 0 and at most MAX_WEIGHT_G; absent: None."""
    value = d.get(key)
    if value is None:
        return None
    if type(value) is not int or not 0 < value <= MAX_WEIGHT_G:
        raise refuse(line, key, f"must be whole grams from 1 to {MAX_WEIGHT_G}, got {value!r}",
                     f'write e.g. "{key}": 512, or leave it out (the lane learns the weight)')
    return value


def _price(d: dict[str, Any], line: int, version: int) -> Record:
    gtin = gtin14(d.get("gtin"), line)
    start, end = window(d, line)
    if start is None:
        raise refuse(line, "from", "is required for a time-limited price",
                     'add "from" (RFC 3339), or make it the product\'s regular price')
    row = (gtin, start, end, req_int(d, "price", line), int_field(d, "member_price", line), version)
    return Record("price", gtin, version, row)


def _promotion(d: dict[str, Any], line: int, version: int) -> Record:
    promo_id = str_field(d, "id", line)
    kind = d.get("type")
    if kind == MARKDOWN:
        return _markdown(d, line, version, promo_id)
    if kind not in _PROMOTION_AMOUNTS:
        raise refuse(line, "type", f"must be bundle, percent, amount or {MARKDOWN}, got {kind!r}",
                     "write one of those; docs/catalog.md says what each takes")
    if "days_before" in d:
        raise refuse(line, "days_before", f"is not used by a {kind} promotion",
                     f"remove it; only an {MARKDOWN} promotion takes it")
    for other in set(_PROMOTION_AMOUNTS.values()) - {_PROMOTION_AMOUNTS[kind]}:
        if other in d:
            raise refuse(line, other, f"is not used by a {kind} promotion",
                         f"remove it; a {kind} promotion takes {_PROMOTION_AMOUNTS[kind]}")
    quantity = req_int(d, "quantity", line, low=1) if kind == "bundle" else (int_field(d, "quantity", line, low=1) or 1)
    bundle_price = req_int(d, "price", line) if kind == "bundle" else None
    percent = rate_field(d, "percent", line) if kind == "percent" else None
    amount = req_int(d, "amount", line, low=1) if kind == "amount" else None
    items = tuple((gtin, promo_id) for gtin in gtin_list(d.get("gtins"), line, "gtins"))
    start, end = window(d, line)
    row = (promo_id, kind, quantity, bundle_price, percent, amount, bool_field(d, "member_only", line), start, end,
           version, None)
    return Record("promotion", promo_id, version, row, items)


def _markdown(d: dict[str, Any], line: int, version: int, promo_id: str) -> Record:
    """An expiry-day markdown: percent or amount off each unit whose label's expiry is today (or `days_before`
    days away); `gtins` absent: every item."""
    for unused in ("price", "quantity"):
        if unused in d:
            raise refuse(line, unused, f"is not used by an {MARKDOWN} promotion",
                         "remove it; a markdown takes percent or amount, off each unit")
    if ("percent" in d) == ("amount" in d):
        raise refuse(line, "percent", f"an {MARKDOWN} promotion needs exactly one of percent or amount",
                     'give percent (a rate such as "0.20") or amount (minor units off each unit), not both')
    percent = rate_field(d, "percent", line) if "percent" in d else None
    amount = req_int(d, "amount", line, low=1) if "amount" in d else None
    days = int_field(d, "days_before", line) or 0
    if days > MAX_DAYS_BEFORE:
        raise refuse(line, "days_before", f"must be 0 (the expiry day) or 1 (from the day before), got {days}",
                     "write 0 or 1, or leave it out (0)")
    gtins = gtin_list(d["gtins"], line, "gtins") if "gtins" in d else [ALL_ITEMS]
    start, end = window(d, line)
    row = (promo_id, MARKDOWN, 1, None, percent, amount, bool_field(d, "member_only", line), start, end, version,
           days)
    return Record("promotion", promo_id, version, row, tuple((gtin, promo_id) for gtin in gtins))

def _coupon(d: dict[str, Any], line: int, version: int) -> Record:
    coupon_id = str_field(d, "id", line)
    amount = int_field(d, "amount", line, low=1)
    percent = None if d.get("percent") is None else rate_field(d, "percent", line)
    if (amount is None) == (percent is None):
        raise refuse(line, "amount", "a coupon needs exactly one of amount or percent",
                     "give amount (minor units off) or percent (a rate such as \"0.10\"), not both or neither")
    conditions = coupon_conditions(d, line)
    start, end = window(d, line)
    row = (coupon_id, amount, percent, json.dumps(conditions, sort_keys=True), start, end,
           int_field(d, "max_uses", line, low=1), version)
    return Record("coupon", coupon_id, version, row)


def _member(d: dict[str, Any], line: int, version: int) -> Record:
    member_id = str_field(d, "id", line)
    status = d.get("status", "active")
    if status not in ("active", "suspended", "closed"):
        raise refuse(line, "status", f"must be active, suspended or closed, got {status!r}",
                     "write one of those, or leave it out (active)")
    cards = d.get("cards", [])
    if type(cards) is not list:
        raise refuse(line, "cards", f"must be a list of card numbers, got {cards!r}",
                     'write a list, e.g. ["2400000001"], even for one card')
    children = tuple((str_field({f"cards[{n}]": c}, f"cards[{n}]", line), member_id, version)
                     for n, c in enumerate(dict.fromkeys(cards)))
    audits, findings = int_field(d, "audits", line) or 0, int_field(d, "audit_findings", line) or 0
    if findings > audits:
        raise refuse(line, "audit_findings", f"must be at most audits ({audits}), got {findings}",
                     "count the audits that found a difference among the member's audits")
    receipt = d.get("receipt")
    if receipt not in (None, "paper", "app", "none"):
        raise refuse(line, "receipt", f"must be paper, app or none, got {receipt!r}",
                     "write the member's choice from the app, or leave it out (the lane's default)")
    row = (member_id, str_field(d, "tier", line), status, int_field(d, "points", line) or 0,
           bool_field(d, "consent_interest", line), version, _iso_date(d, "since", line), audits, findings, receipt)
    return Record("member", member_id, version, row, children)


def _iso_date(d: dict[str, Any], key: str, line: int) -> str | None:
    """An optional ISO date (YYYY-MM-DD), kept as written."""
    value = d.get(key)
    if value is None:
        return None
    try:
        if type(value) is not str or len(value) != 10:
            raise ValueError(value)
        date.fromisoformat(value)
    except ValueError:
        raise refuse(line, key, f"must be an ISO date, got {value!r}", 'write e.g. "2024-04-01"') from None
    return value


def _order(d: dict[str, Any], line: int, version: int) -> Record:
    order_id = str_field(d, "id", line)
    items = d.get("items")
    if type(items) is not list or not all(type(i) is dict for i in items):
        raise refuse(line, "items", f"must be a list of objects, got {items!r}",
                     'write e.g. [{"gtin": "4901234567894", "qty": 2}]')
    clean = []
    for n, item in enumerate(items):
        known_fields(item, _ORDER_ITEM, line, "an order item", prefix=f"items[{n}].")
        clean.append({"gtin": gtin14(item.get("gtin"), line, f"items[{n}].gtin"),
                      "qty": int_field(item, "qty", line, required=True, low=1, field=f"items[{n}].qty")})
    row = (order_id, str_field(d, "member", line, required=False), json.dumps(clean), str_field(d, "status", line),
           str_field(d, "locker", line, required=False), version)
    return Record("order", order_id, version, row)


def _key(d: dict[str, Any], line: int, version: int) -> Record:
    kid = str_field(d, "kid", line)
    pem = text_field(d, "public_key", line)
    if "BEGIN PUBLIC KEY" not in pem:
        raise refuse(line, "public_key", "must be a PEM public key",
                     "give the Ed25519 public key as PEM text (-----BEGIN PUBLIC KEY----- ...)")
    start, end = window(d, line)
    return Record("key", kid, version, (kid, pem, start, end, version))


def _policy(d: dict[str, Any], line: int, version: int) -> Record:
    key = str_field(d, "key", line)
    if "value" not in d:
        raise refuse(line, "value", "is required", "add the policy key's value (docs/catalog.md, offline policy)")
    policy_value(key, d["value"], line)
    return Record("policy", key, version, (key, json.dumps(d["value"]), version))


def _sale_stop(d: dict[str, Any], line: int, version: int) -> Record:
    """A lot (or with lot "*" every lot) of a GTIN that must not be sold: a recall or a quality hold."""
    gtin = gtin14(d.get("gtin"), line)
    lot = lot_field(d.get("lot"), line, "lot")
    message_ja = None if d.get("message_ja") is None else text_field(d, "message_ja", line)
    row = (gtin, lot, str_field(d, "reason", line), text_field(d, "message", line), message_ja, version)
    return Record("sale_stop", f"{gtin} {lot}", version, row)


def lot_field(value: object, line: int, field: str) -> str:
    """An AI 10 lot as printed on the label (1 to 20 GS1 characters), or "*" for every lot of the GTIN."""
    if type(value) is not str or not LOT.fullmatch(value):
        raise refuse(line, field, f"must be a lot as printed (1 to 20 GS1 characters, AI 10) or \"*\", got {value!r}",
                     'write the lot as a string, e.g. "L2026A", or "*" to stop every lot of the GTIN')
    return value


PARSERS = {"product": _product, "price": _price, "promotion": _promotion, "coupon": _coupon,
           "member": _member, "order": _order, "key": _key, "policy": _policy, "sale_stop": _sale_stop}


def parse_line(raw: bytes, line: int) -> Record | Delete | Trailer | DeltaHeader:
    """One line (without its newline) -> a validated record, delete, trailer or delta header."""
    if len(raw) > MAX_LINE_BYTES:
        raise CatalogLineError(line, f"line is longer than {MAX_LINE_BYTES} bytes")
    try:
        d = _loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CatalogLineError(line, f"not valid JSON ({exc})") from None
    if type(d) is not dict:
        raise CatalogLineError(line, "a line must be a JSON object")
    try:
        return _parse_object(d, line)
    except (TypeError, AttributeError) as exc:   # a list or object where a string belongs, say
        raise CatalogLineError(line, f"a field has the wrong type ({exc})") from None


def _parse_object(d: dict[str, Any], line: int) -> Record | Delete | Trailer | DeltaHeader:
    kind = d.get("kind", "product")
    version = req_int(d, "version", line, low=1)
    if kind != "product" and type(kind) is str and kind in FIELDS:   # a product's parser checks its own
        known_fields(d, FIELDS[kind], line, f"a {kind} line")
    parser = PARSERS.get(kind)
    if parser is not None:
        return parser(d, line, version)
    if kind == "delete":
        of = d.get("of")
        if of not in PARSERS:
            raise refuse(line, "of", f"must be one of {', '.join(PARSERS)}, got {of!r}",
                         "name the kind of record to delete")
        key = gtin14(d.get("id"), line, "id") if of in ("product", "price", "sale_stop") else str_field(d, "id", line)
        if of == "sale_stop":
            return Delete(of, key, version, lot_field(d.get("lot"), line, "lot"))
        if "lot" in d:
            raise refuse(line, "lot", f"is only used to delete a sale_stop, not a {of}", "remove it")
        return Delete(of, key, version)
    if kind == "trailer":
        digest = str_field(d, "sha256", line, pattern=re.compile(r"[0-9a-f]{64}"))
        return Trailer(version, req_int(d, "count", line), digest)
    if kind == "delta":
        return DeltaHeader(req_int(d, "base", line), version)
    raise refuse(line, "kind", f"unknown kind {kind!r}", f"use one of {', '.join([*PARSERS, 'delete', 'trailer'])}; "
                 "a new kind needs an agent that knows where to put it")
