"""Snapshot import: all-or-nothing verification, forward-only versions, and an atomic swap under live lookups."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from pathlib import Path

import pytest

from agent.catalog.db import CatalogDb
from agent.catalog.fields import CatalogLineError
from agent.catalog.load import OlderSnapshot, load_snapshot
from agent.errors import StoreError
from simulators.cloud.catalog_data import SnapshotSpec, gtin_for, price_for, write_lines, write_snapshot
from simulators.fixtures.shop import until


def snapshot(tmp_path: Path, name: str = "snap.jsonl", **spec: int) -> Path:
    return write_snapshot(tmp_path / name, SnapshotSpec(**spec))  # type: ignore[arg-type]


def test_import_of_a_valid_snapshot_counts_every_kind(catalog_db: CatalogDb, tmp_path: Path) -> None:
    result = load_snapshot(catalog_db, snapshot(tmp_path, products=30, members=7, version=4))
    assert result.version == 4 and result.counts["product"] == 30 and result.counts["member"] == 7
    status = catalog_db.status()
    assert status.loaded and status.version == 4 and status.counts["member"] == 7


def test_gzip_is_recognised_by_its_content(catalog_db: CatalogDb, tmp_path: Path) -> None:
    path = write_snapshot(tmp_path / "snap.data", SnapshotSpec(products=10, version=2), compress=True)
    assert load_snapshot(catalog_db, path).version == 2


@pytest.mark.parametrize(("bad", "fragment"), [
    (b'{"gtin": "04900000000013", "name": "x", "price": 1, "tax_rate": "0.08", "version": 1\n', "not valid JSON"),
    (b'{"gtin": "04900000000014", "name": "x", "price": 1, "tax_rate": "0.08", "version": 1}\n', "check digit"),
    (b'{"gtin": "04900000000030", "name": "x", "price": -5, "tax_rate": "0.08", "version": 1}\n', "price"),
    (b'{"gtin": "04900000000030", "name": "x", "price": 5, "tax_rate": 0.08, "version": 1}\n', "tax_rate"),
    (b'{"kind": "wizard", "version": 1}\n', "unknown kind"),
    (b'{"gtin": "04900000000023", "name": "dup", "price": 5, "tax_rate": "0.08", "version": 1}\n', "duplicate"),
])
def test_one_bad_line_refuses_the_whole_file_naming_its_line(catalog_db: CatalogDb, tmp_path: Path,
                                                             bad: bytes, fragment: str) -> None:
    load_snapshot(catalog_db, snapshot(tmp_path, "good.jsonl", products=5, version=1))
    lines = [json.dumps({"gtin": gtin_for(i), "name": f"n{i}", "price": 100, "tax_rate": "0.08", "version": 2})
             .encode() + b"\n" for i in range(10)]
    lines.insert(6, bad)   # becomes line 7
    body = b"".join(lines)
    trailer = {"kind": "trailer", "version": 2, "count": 11, "sha256": hashlib.sha256(body).hexdigest()}
    path = tmp_path / "bad.jsonl"
    path.write_bytes(body + json.dumps(trailer).encode() + b"\n")
    with pytest.raises(CatalogLineError, match=fragment) as caught:
        load_snapshot(catalog_db, path)
    assert caught.value.line == 7
    assert catalog_db.status().version == 1 and catalog_db.status().counts["product"] == 5
    assert not list(catalog_db.state_dir.glob("*.loading*"))


@pytest.mark.parametrize(("mutate", "fragment"), [
    (lambda b: b.rsplit(b"\n", 2)[0] + b"\n", "no trailer"),
    (lambda b: b.replace(b"Item 3", b"Item 9", 1), "checksum"),
    (lambda b: b.replace(b'"count": 8', b'"count": 9'), "trailer says 9"),
    (lambda b: b + b'{"gtin": "04900000000030", "version": 1}\n', "after the trailer"),
])
def test_damaged_snapshots_are_refused(catalog_db: CatalogDb, tmp_path: Path, mutate: object,
                                       fragment: str) -> None:
    path = snapshot(tmp_path, products=8, version=3)
    path.write_bytes(mutate(path.read_bytes()))  # type: ignore[operator]
    with pytest.raises(CatalogLineError, match=fragment):
        load_snapshot(catalog_db, path)
    assert not catalog_db.status().loaded


def test_rollback_to_an_older_or_equal_version_is_refused(catalog_db: CatalogDb, tmp_path: Path) -> None:
    load_snapshot(catalog_db, snapshot(tmp_path, "v5.jsonl", products=5, version=5))
    for version in (4, 5):
        with pytest.raises(OlderSnapshot, match="already loaded" if version == 5 else "only move forward"):
            load_snapshot(catalog_db, snapshot(tmp_path, f"v{version}b.jsonl", products=9, version=version))
    assert catalog_db.status().version == 5 and catalog_db.status().counts["product"] == 5


def test_catalog_survives_reopening_and_old_generations_are_removed(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = CatalogDb.open(state)
    for version in (1, 2, 3):
        load_snapshot(first, snapshot(tmp_path, f"v{version}.jsonl", products=version * 10, version=version))
    first.close()
    again = CatalogDb.open(state)
    try:
        assert again.status().version == 3 and again.status().counts["product"] == 30
        assert len(list(state.glob("catalog-v*.db"))) == 1
    finally:
        again.close()


def test_corrupt_catalog_file_is_dropped_and_selling_goes_on(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = CatalogDb.open(state)
    load_snapshot(first, snapshot(tmp_path, products=10, version=1))
    path = Path(first.status().path or "")
    first.close()
    path.write_bytes(b"this is not a database" * 100)
    again = CatalogDb.open(state)
    try:
        assert not again.status().loaded and again.product(gtin_for(1)) is None
    finally:
        again.close()


def test_swap_under_concurrent_lookups_never_fails_or_mixes(catalog_db: CatalogDb, tmp_path: Path) -> None:
    """Readers in threads check that each answer comes whole from one version: name, price and version agree."""
    products = 2000
    specs = [write_lines(tmp_path / f"v{v}.jsonl", [
        {"gtin": gtin_for(i), "name": f"v{v} item {i}", "price": v * 1000 + i % 7, "tax_rate": "0.08",
         "version": v}
        for i in range(products)], version=v) for v in range(1, 7)]
    load_snapshot(catalog_db, specs[0])
    stop, problems, seen = threading.Event(), [], set()

    def reader(offset: int) -> None:
        i = offset
        while not stop.is_set():
            i = (i + 7) % products
            product = catalog_db.product(gtin_for(i))
            if product is None or product.name != f"v{product.version} item {i}" \
                    or product.price != product.version * 1000 + i % 7:
                problems.append(product)
            else:
                seen.add(product.version)

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    try:
        for path in specs[1:]:
            load_snapshot(catalog_db, path)
        until(lambda: 6 in seen, "a reader to see version 6", 5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    assert problems == []
    assert seen >= {1, 6} and catalog_db.status().version == 6


def test_price_for_generated_items_matches(catalog_db: CatalogDb, tmp_path: Path) -> None:
    load_snapshot(catalog_db, write_snapshot(tmp_path / "s.gz", SnapshotSpec(products=20, version=1), compress=True))
    product = catalog_db.product(gtin_for(13))
    assert product is not None and product.price == price_for(13) and product.member_price == price_for(13) - 10
    assert gzip.open(tmp_path / "s.gz").readline().startswith(b"{")


def test_a_running_agent_follows_a_catalog_imported_by_another_process(catalog_db: CatalogDb,
                                                                        tmp_path: Path) -> None:
    load_snapshot(catalog_db, snapshot(tmp_path, "v1.jsonl", products=5, version=1))
    other = CatalogDb(catalog_db.state_dir, cleanup=False)      # what `omo-edge catalog import` uses
    load_snapshot(other, snapshot(tmp_path, "v2.jsonl", products=12, version=2), swap=False)
    assert catalog_db.status().version == 1
    assert catalog_db.follow_pointer()
    assert catalog_db.status().version == 2 and catalog_db.status().counts["product"] == 12
    with pytest.raises(OlderSnapshot):    # the pointer is the truth, whatever this process had open
        load_snapshot(other, snapshot(tmp_path, "v2b.jsonl", products=3, version=2), swap=False)


def test_a_damaged_new_generation_never_replaces_the_current_one(catalog_db: CatalogDb, tmp_path: Path) -> None:
    load_snapshot(catalog_db, snapshot(tmp_path, "v1.jsonl", products=5, version=1))
    other = CatalogDb(catalog_db.state_dir, cleanup=False)
    load_snapshot(other, snapshot(tmp_path, "v2.jsonl", products=12, version=2), swap=False)
    name = (catalog_db.state_dir / "catalog.current").read_text().strip()
    (catalog_db.state_dir / name).write_bytes(b"garbage" * 1000)
    with pytest.raises(StoreError, match="integrity"):
        catalog_db.follow_pointer()
    assert catalog_db.status().version == 1 and catalog_db.product(gtin_for(2)) is not None
