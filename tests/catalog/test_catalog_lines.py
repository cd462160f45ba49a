"""Catalog line validation as a table of cases and a property: what is valid loads as given, the rest names its line."""

from __future__ import annotations

import json

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from agent.catalog.fields import CatalogLineError, gtin14
from agent.catalog.lines import Delete, DeltaHeader, Record, Trailer, parse_line
from agent.catalog.rates import canonical_rate
from simulators.cloud.catalog_data import gtin_for

products = st.fixed_dictionaries({
    "gtin": st.integers(0, 10**9).map(gtin_for),
    "name": st.text(min_size=1, max_size=40).filter(lambda s: s.strip()),
    "price": st.integers(0, 10**7),
    "tax_rate": st.sampled_from(["0", "0.08", "0.1", "0.10", "1"]),
    "version": st.integers(1, 10**6),
}, optional={
    "member_price": st.integers(0, 10**7), "age_restricted": st.booleans(), "sale_stop": st.booleans(),
    "deposit": st.just(0), "unit": st.sampled_from(["kg", "100g", "g"]), "department": st.text(max_size=10),
    "names": st.dictionaries(st.sampled_from(["ja", "en", "zh-Hant"]),
                             st.text(min_size=1, max_size=20).filter(lambda s: s.strip()), min_size=1),
})


@settings(max_examples=200, deadline=None)
@given(products)
def test_every_valid_product_loads_as_given(line: dict[str, object]) -> None:
    record = parse_line(json.dumps(line).encode(), 3)
    assert isinstance(record, Record) and record.kind == "product"
    assert record.row[:4] == (line["gtin"], line["name"], line["price"], canonical_rate(str(line["tax_rate"])))
    assert record.row[4] == line.get("member_price") and record.version == line["version"]


@settings(max_examples=100, deadline=None)
@given(products, st.sampled_from(["price", "tax_rate", "name", "gtin", "version"]),
       st.sampled_from([None, -1, "x", 1.5, [], True]))
def test_a_bad_field_is_refused_naming_the_line(line: dict[str, object], field: str, bad: object) -> None:
    assume(not (field == "name" and bad == "x"))     # the one valid pair
    line = {**line, field: bad}
    with pytest.raises(CatalogLineError) as caught:
        parse_line(json.dumps(line).encode(), 41)
    assert caught.value.line == 41


@pytest.mark.parametrize(("code", "stored"), [
    ("4006381333931", "04006381333931"), ("96385074", "00000096385074"), ("036000291452", "00036000291452"),
    ("04006381333931", "04006381333931"),
])
def test_gtins_are_stored_as_gtin14(code: str, stored: str) -> None:
    assert gtin14(code, 1) == stored


@pytest.mark.parametrize("code", ["4006381333932", "400638133393", "abc", "", "４００６３８１３３３９３１"])
def test_bad_gtins_are_refused(code: str) -> None:
    with pytest.raises(CatalogLineError):
        gtin14(code, 1)


def test_special_lines() -> None:
    assert parse_line(b'{"kind": "delete", "of": "member", "id": "M1", "version": 3}', 1) == Delete("member", "M1", 3)
    assert parse_line(b'{"kind": "delta", "base": 2, "version": 3}', 1) == DeltaHeader(2, 3)
    trailer = parse_line(b'{"kind": "trailer", "version": 3, "count": 0, "sha256": "' + b"a" * 64 + b'"}', 1)
    assert trailer == Trailer(3, 0, "a" * 64)


@pytest.mark.parametrize(("line", "fragment"), [
    ({"kind": "promotion", "id": "P", "type": "bundle", "gtins": [gtin_for(1)], "version": 1}, "quantity"),
    ({"kind": "promotion", "id": "P", "type": "bogof", "quantity": 1, "gtins": [gtin_for(1)], "version": 1}, "type"),
    ({"kind": "coupon", "id": "C", "amount": 5, "percent": "0.1", "version": 1}, "exactly one"),
    ({"kind": "member", "id": "M", "tier": "gold", "status": "gone", "version": 1}, "status"),
    ({"kind": "price", "gtin": gtin_for(1), "price": 5, "version": 1}, "from: is required"),
    ({"kind": "price", "gtin": gtin_for(1), "price": 5, "from": "2026-12-01", "version": 1}, "offset"),
    ({"kind": "price", "gtin": gtin_for(1), "price": 5, "from": "2026-12-02T00:00:00Z",
      "to": "2026-12-01T00:00:00Z", "version": 1}, "after"),
    ({"kind": "key", "kid": "k", "public_key": "nope", "version": 1}, "PEM"),
    ({"kind": "policy", "key": "max_sale_total", "version": 1}, "value"),
    ({"gtin": gtin_for(1), "name": "x", "price": 1, "tax_rate": "0.08"}, "version"),
])
def test_other_kinds_are_checked(line: dict[str, object], fragment: str) -> None:
    with pytest.raises(CatalogLineError, match=fragment):
        parse_line(json.dumps(line).encode(), 9)
