"""Pure parsing and validation of catalog lines (JSON Lines, docs/catalog.md) into rows for the schema.

Every line is checked before anything is written, and a refusal names the line number, so the cloud
team can find the bad record. Unknown fields are ignored (the cloud may add some); unknown kinds are
refused (a new kind needs an agent that knows where to put it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from agent.catalog.fields import (
    CatalogLineError,
    bool_field,
    gtin14,
    int_field,
    rate_field,
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


_UNITS = frozenset(("kg", "100g", "g", "l", "100ml"))
# Tax rates already found valid, as spelled -> canonical: a catalog uses a handful, each checked once.
_RATES_SEEN: dict[str, str] = {}


def _product(d: dict[str, Any], line: int, version: int) -> Record:
    """The hot path of a million-line import: one flat check; anything unusual goes to `_product_checked`."""
    gtin = gtin14(d.get("gtin"), line)
    name, price, rate = d.get("name"), d.get("price"), d.get("tax_rate")
    member, deposit, unit, department = d.get("member_price"), d.get("deposit", 0), d.get("unit"), d.get("department")
    age, stop = d.get("age_restricted", False), d.get("sale_stop", False)
    if (type(name) is str and 0 < len(name) <= 1000 and not name.isspace() and type(price) is int and price >= 0
            and type(rate) is str and rate in _RATES_SEEN and (member is None or (type(member) is int and member >= 0))
            and type(deposit) is int and deposit >= 0 and type(age) is bool and type(stop) is bool
            and (unit is None or (type(unit) is str and unit in _UNITS))
            and (department is None or type(department) is str)):
        return Record("product", gtin, version, (gtin, name, price, _RATES_SEEN[rate], member, department,
                                                 int(age), int(stop), deposit, unit, version))
    return _product_checked(d, line, version, gtin)


def _product_checked(d: dict[str, Any], line: int, version: int, gtin: str) -> Record:
    rate = rate_field(d, "tax_rate", line)
    if len(_RATES_SEEN) < 1000:
        _RATES_SEEN[d["tax_rate"]] = rate
    unit = d.get("unit")
    if unit is not None and unit not in _UNITS:
        raise CatalogLineError(line, f"unit must be kg, 100g, g, l or 100ml (or absent), got {unit!r}")
    department = d.get("department")
    if department is not None and type(department) is not str:
        raise CatalogLineError(line, f"department must be a string, got {department!r}")
    row = (gtin, text_field(d, "name", line), req_int(d, "price", line), rate, int_field(d, "member_price", line),
           department, bool_field(d, "age_restricted", line), bool_field(d, "sale_stop", line),
           int_field(d, "deposit", line) or 0, unit, version)
    return Record("product", gtin, version, row)


def _price(d: dict[str, Any], line: int, version: int) -> Record:
    gtin = gtin14(d.get("gtin"), line)
    start, end = window(d, line)
    if start is None:
        raise CatalogLineError(line, "from is required for a time-limited price")
    row = (gtin, start, end, req_int(d, "price", line), int_field(d, "member_price", line), version)
    return Record("price", gtin, version, row)


def _promotion(d: dict[str, Any], line: int, version: int) -> Record:
    promo_id = str_field(d, "id", line)
    kind = d.get("type")
    quantity = req_int(d, "quantity", line, low=1) if kind == "bundle" else (int_field(d, "quantity", line, low=1) or 1)
    bundle_price = req_int(d, "price", line) if kind == "bundle" else None
    percent = rate_field(d, "percent", line) if kind == "percent" else None
    amount = req_int(d, "amount", line, low=1) if kind == "amount" else None
    if kind not in ("bundle", "percent", "amount"):
        raise CatalogLineError(line, f"promotion type must be bundle, percent or amount, got {kind!r}")
    gtins = d.get("gtins")
    if type(gtins) is not list or not gtins:
        raise CatalogLineError(line, "gtins must be a non-empty list of GTINs")
    items = tuple((gtin14(g, line, "gtins[]"), promo_id) for g in dict.fromkeys(gtins))
    start, end = window(d, line)
    row = (promo_id, kind, quantity, bundle_price, percent, amount, bool_field(d, "member_only", line), start, end,
           version)
    return Record("promotion", promo_id, version, row, items)


def _coupon(d: dict[str, Any], line: int, version: int) -> Record:
    coupon_id = str_field(d, "id", line)
    amount = int_field(d, "amount", line, low=1)
    percent = None if d.get("percent") is None else rate_field(d, "percent", line)
    if (amount is None) == (percent is None):
        raise CatalogLineError(line, "a coupon needs exactly one of amount or percent")
    conditions = d.get("conditions", {})
    if type(conditions) is not dict:
        raise CatalogLineError(line, "conditions must be an object")
    start, end = window(d, line)
    row = (coupon_id, amount, percent, json.dumps(conditions, sort_keys=True), start, end,
           int_field(d, "max_uses", line, low=1), version)
    return Record("coupon", coupon_id, version, row)


def _member(d: dict[str, Any], line: int, version: int) -> Record:
    member_id = str_field(d, "id", line)
    status = d.get("status", "active")
    if status not in ("active", "suspended", "closed"):
        raise CatalogLineError(line, f"status must be active, suspended or closed, got {status!r}")
    cards = d.get("cards", [])
    if type(cards) is not list:
        raise CatalogLineError(line, "cards must be a list of card numbers")
    children = tuple((str_field({"cards[]": c}, "cards[]", line), member_id, version) for c in dict.fromkeys(cards))
    row = (member_id, str_field(d, "tier", line), status, int_field(d, "points", line) or 0,
           bool_field(d, "consent_interest", line), version)
    return Record("member", member_id, version, row, children)


def _order(d: dict[str, Any], line: int, version: int) -> Record:
    order_id = str_field(d, "id", line)
    items = d.get("items")
    if type(items) is not list or not all(type(i) is dict for i in items):
        raise CatalogLineError(line, "items must be a list of {\"gtin\", \"qty\"} objects")
    clean = [{"gtin": gtin14(i.get("gtin"), line, "items[].gtin"), "qty": req_int(i, "qty", line, low=1)}
             for i in items]
    row = (order_id, str_field(d, "member", line, required=False), json.dumps(clean), str_field(d, "status", line),
           str_field(d, "locker", line, required=False), version)
    return Record("order", order_id, version, row)


def _key(d: dict[str, Any], line: int, version: int) -> Record:
    kid = str_field(d, "kid", line)
    pem = text_field(d, "public_key", line)
    if "BEGIN PUBLIC KEY" not in pem:
        raise CatalogLineError(line, "public_key must be a PEM public key")
    start, end = window(d, line)
    return Record("key", kid, version, (kid, pem, start, end, version))


def _policy(d: dict[str, Any], line: int, version: int) -> Record:
    key = str_field(d, "key", line)
    if "value" not in d:
        raise CatalogLineError(line, "value is required")
    return Record("policy", key, version, (key, json.dumps(d["value"]), version))


PARSERS = {"product": _product, "price": _price, "promotion": _promotion, "coupon": _coupon,
           "member": _member, "order": _order, "key": _key, "policy": _policy}


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
    parser = PARSERS.get(kind)
    if parser is not None:
        return parser(d, line, version)
    if kind == "delete":
        of = d.get("of")
        if of not in PARSERS:
            raise CatalogLineError(line, f"delete 'of' must be one of {', '.join(PARSERS)}, got {of!r}")
        key = gtin14(d.get("id"), line, "id") if of in ("product", "price") else str_field(d, "id", line)
        return Delete(of, key, version)
    if kind == "trailer":
        digest = str_field(d, "sha256", line, pattern=re.compile(r"[0-9a-f]{64}"))
        return Trailer(version, req_int(d, "count", line), digest)
    if kind == "delta":
        return DeltaHeader(req_int(d, "base", line), version)
    raise CatalogLineError(line, f"unknown kind {kind!r}; known: {', '.join([*PARSERS, 'delete', 'trailer'])}")
