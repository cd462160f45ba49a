"""One tax rate, one spelling: "0.1" and "0.10" are the same rate from the moment a catalog line is read.

A rate spelled two ways used to be taxed as two rates (two roundings, four rows on the receipt) and "0.080"
items lost the reduced-rate mark. The catalog now stores the canonical spelling, and the pricing engine, the
screen's view and the receipt judge rates by value, so a spelling from anywhere cannot split a rate again.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.catalog.db import CatalogDb
from agent.catalog.delta import parse_delta
from agent.catalog.lines import Record
from agent.catalog.load import load_snapshot
from agent.catalog.rates import canonical_rate
from agent.session.pricing.engine import price_basket
from agent.session.pricing.engine_types import LineInput, TaxConfig
from agent.session.rules.receipt import receipt
from agent.session.settings import SessionSection
from simulators.cloud.catalog_data import delta_payload, gtin_for, write_lines
from simulators.cloud.tokens import TokenIssuer
from simulators.fixtures.session import SessionLane

SPELLINGS = {"0.10": ["0.1", "0.10", "0.100", "0.1000"], "0.08": ["0.08", "0.080", "0.0800"],
             "0.00": ["0", "0.0", "0.00"]}


@pytest.mark.parametrize(("spelling", "canonical"),
                         [(s, c) for c, spellings in SPELLINGS.items() for s in spellings] + [("1", "1.00"),
                                                                                          ("0.075", "0.075")])
def test_every_spelling_of_a_rate_has_one_canonical_form(spelling: str, canonical: str) -> None:
    assert canonical_rate(spelling) == canonical


def test_an_imported_catalog_stores_one_spelling_per_rate(catalog_db: CatalogDb, tmp_path: Path) -> None:
    spellings = ["0.1", "0.10", "0.08", "0.080"]
    lines = [{"gtin": gtin_for(i), "name": f"item {i}", "price": 100, "tax_rate": rate, "version": 1}
             for i, rate in enumerate(spellings)]
    load_snapshot(catalog_db, write_lines(tmp_path / "snap.jsonl", lines, version=1))
    stored = [catalog_db.product(gtin_for(i)) for i in range(len(spellings))]
    assert [p.tax_rate for p in stored if p is not None] == ["0.10", "0.10", "0.08", "0.08"]


@st.composite
def respelled(draw: st.DrawFn) -> tuple[list[LineInput], list[LineInput]]:
    """A basket in canonical rates, and the same basket with each line's rate spelled another valid way."""
    canonical, other = [], []
    for n in range(draw(st.integers(1, 10))):
        rate = draw(st.sampled_from(sorted(SPELLINGS)))
        line = LineInput(line_id=f"L{n + 1}", gtin=gtin_for(n % 4), name="x", quantity=draw(st.integers(1, 5)),
                         unit_price=draw(st.integers(0, 5000)), member_price=None, tax_rate=rate, position=n)
        canonical.append(line)
        other.append(replace(line, tax_rate=draw(st.sampled_from(SPELLINGS[rate]))))
    return canonical, other


@settings(max_examples=150, deadline=None)
@given(respelled(), st.sampled_from(["inclusive", "exclusive"]), st.sampled_from(["down", "half_up", "up"]))
def test_the_engine_prices_equivalent_rate_spellings_exactly_alike(
        baskets: tuple[list[LineInput], list[LineInput]], mode: str, rounding: str) -> None:
    tax = TaxConfig(mode=mode, rounding=rounding)
    canonical, other = (price_basket(lines, member_tier=None, tax=tax) for lines in baskets)
    assert other.rates == canonical.rates          # one row per rate, labelled canonically, one rounding each
    assert (other.total, other.tax_total, other.amount_due) == (canonical.total, canonical.tax_total,
                                                               canonical.amount_due)
    assert len({r.rate for r in other.rates}) == len({canonical_rate(line.tax_rate) for line in baskets[1]})


def test_two_spellings_of_the_standard_rate_are_taxed_once() -> None:
    """The review's case: 0.1 and 0.10 items of 55 each: tax of 110 at 10% is 10, not 5 + 5 rounded twice."""
    lines = [LineInput(line_id="L1", gtin=gtin_for(1), name="a", quantity=1, unit_price=55, member_price=None,
                       tax_rate="0.1"),
             LineInput(line_id="L2", gtin=gtin_for(2), name="b", quantity=1, unit_price=55, member_price=None,
                       tax_rate="0.10")]
    priced = price_basket(lines, member_tier=None)
    assert [(r.rate, r.total, r.tax) for r in priced.rates] == [("0.10", 110, 10)]


@pytest.mark.parametrize("spelling", SPELLINGS["0.08"])
def test_a_reduced_rate_item_keeps_its_mark_however_the_rate_is_spelled(spelling: str) -> None:
    sale = {"occurred_at": "2026-12-07T10:00:00+09:00", "sale_id": "S1", "total": 216, "points": 0,
            "lines": [{"name": "Green tea", "tax_rate": spelling, "quantity": 1, "net": 108},
                      {"name": "Batteries", "tax_rate": "0.1", "quantity": 1, "net": 108}],
            "tax_breakdown": []}
    printed = receipt(sale, SessionSection())
    assert [item["name"] for item in printed["items"]] == ["Green tea ※", "Batteries"]
    assert printed["reduced_rate_note"] is not None


async def test_a_sale_from_a_catalog_with_mixed_spellings_has_one_row_per_rate(
        tmp_path: Path, token_issuer: TokenIssuer) -> None:
    """End to end on real files: import, four scans, pay; the sale and its receipt see two rates, not four."""
    spelled = [("0.08", 108), ("0.080", 108), ("0.1", 55), ("0.10", 55)]
    state = tmp_path / "state"
    catalog = CatalogDb.open(state)
    lines = [{"gtin": gtin_for(i), "name": f"item {i}", "price": price, "tax_rate": rate, "version": 1}
             for i, (rate, price) in enumerate(spelled)]
    load_snapshot(catalog, write_lines(tmp_path / "mixed.jsonl", lines, version=1))
    catalog.close()
    lane = SessionLane(state, token_issuer)
    await lane.open()
    try:
        for i in range(len(spelled)):
            await lane.scan(gtin_for(i)[1:])
        assert lane.controller is not None
        await lane.checkout.pay("simulated")
        [sale] = lane.events("omo.sale/1")
    finally:
        await lane.stop()
    assert [(r["rate"], r["total"], r["tax"]) for r in sale["tax_breakdown"]] == [("0.08", 216, 16),
                                                                                ("0.10", 110, 10)]
    assert [item["name"].endswith("※") for item in sale["receipt"]["items"]] == [True, True, False, False]
    assert [line["tax_rate"] for line in sale["lines"]] == ["0.08", "0.08", "0.10", "0.10"]


def test_a_delta_stores_the_canonical_rate_too() -> None:
    delta = parse_delta(delta_payload(1, 2, [{"gtin": gtin_for(1), "name": "tea", "price": 1, "tax_rate": "0.080"}]))
    [record] = delta.changes
    assert isinstance(record, Record) and record.row[3] == "0.08"


async def test_a_rate_stored_by_an_older_agent_is_read_canonically(catalog_db: CatalogDb, tmp_path: Path) -> None:
    load_snapshot(catalog_db, write_lines(tmp_path / "s.jsonl", [
        {"gtin": gtin_for(1), "name": "tea", "price": 108, "tax_rate": "0.08", "version": 1}], version=1))
    db = catalog_db.database
    assert db is not None
    await db.write(lambda conn: conn.execute("UPDATE products SET tax_rate = '0.080'"))   # as an older agent left it
    product = catalog_db.product(gtin_for(1))
    assert product is not None and product.tax_rate == "0.08"
