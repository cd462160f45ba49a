"""Product names per language: `names: {"ja": …, "en": …}` on a catalog product line, kept in the offline
catalog, copied into the basket line at the scan and shown in GET /v1/session; `name` stays the fallback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.catalog.db import CatalogDb
from agent.catalog.fields import CatalogLineError
from agent.catalog.load import load_snapshot
from simulators.cloud.catalog_data import gtin_for, write_lines
from simulators.cloud.store_catalog import ONIGIRI, TEA
from simulators.fixtures.session import SessionLane

NAMES = {"ja": "緑茶 500ml", "en": "Green tea 500ml"}


def product(i: int, **extra: Any) -> dict[str, Any]:
    return {"gtin": gtin_for(i), "name": f"Item {i}", "price": 100, "tax_rate": "0.08", "version": 1, **extra}


def test_names_are_kept_per_language_and_absent_names_are_empty(catalog_db: CatalogDb, tmp_path: Path) -> None:
    load_snapshot(catalog_db, write_lines(tmp_path / "s.jsonl", [product(1, names=NAMES), product(2)], version=1))
    named, plain = catalog_db.product(gtin_for(1)), catalog_db.product(gtin_for(2))
    assert named is not None and dict(named.names) == NAMES and named.name == "Item 1"
    assert plain is not None and dict(plain.names) == {}


@pytest.mark.parametrize("names", [["緑茶"], {"ja": ""}, {"ja": 5}, {"Japanese": "緑茶"}, {}, "緑茶"])
def test_a_bad_names_object_refuses_the_file_naming_the_line(catalog_db: CatalogDb, tmp_path: Path,
                                                             names: Any) -> None:
    path = write_lines(tmp_path / "s.jsonl", [product(1), product(2, names=names)], version=1)
    with pytest.raises(CatalogLineError, match=r"line 2: names(\.ja)?: (must be|.Japanese. is not a language code)"):
        load_snapshot(catalog_db, path)
    assert not catalog_db.status().loaded


async def test_the_basket_line_and_the_session_view_carry_the_names(session_lane: SessionLane) -> None:
    await session_lane.scan(TEA)
    await session_lane.scan(ONIGIRI)
    lines = session_lane.view["lines"]
    assert lines[0]["name"] == "Green tea 500ml" and lines[0]["names"] == NAMES
    assert lines[1]["names"]["ja"] == "鮭おにぎり"
    await session_lane.restart()                  # kept in lane.db with the visit, read back as written
    assert session_lane.view["lines"][0]["names"] == NAMES


def test_the_store_catalog_names_every_product_in_both_languages() -> None:
    from simulators.cloud.store_catalog import records

    products = [line for line in records() if "gtin" in line and "kind" not in line]
    assert products and all(set(line["names"]) == {"ja", "en"} for line in products), json.dumps(products)
