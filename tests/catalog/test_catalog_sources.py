"""Catalog sources: a hand-imported catalog never wedges a lane; the cloud's snapshot always supersedes it.

Real SQLite files in a temp state directory, `omo-edge catalog ...` run in-process as store IT runs it, and the
fake catalog server over real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from agent.catalog.catalog_sync import CatalogSync
from agent.catalog.db import CatalogDb
from agent.catalog.files import read_pointer
from agent.cli import main
from agent.health import State
from simulators.cloud.catalog_data import gtin_for, write_lines
from simulators.cloud.catalog_server import CatalogServer

TIMEOUT_S = 20
HAND_MADE = 9_000   # a product only the hand-made catalog has (the cloud's have products 0..199 or more)


def hand_import(tmp_path: Path, catalog: CatalogDb, version: int = 17) -> None:
    """Import a small test catalog with `omo-edge catalog import`, then let the catalog follow it."""
    lines = [{"gtin": gtin_for(HAND_MADE), "name": "Test item", "price": 1, "tax_rate": "0.08", "version": version}]
    path = write_lines(tmp_path / f"test-v{version}.jsonl", lines, version=version)
    assert main(["catalog", "import", str(path), "--state-dir", str(catalog.state_dir)]) == 0
    catalog.follow_pointer()
    assert catalog.status().version == version


async def pull(sync: CatalogSync) -> None:
    async with asyncio.timeout(TIMEOUT_S):
        await sync.pull()


def status_text(catalog: CatalogDb, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["catalog", "status", "--state-dir", str(catalog.state_dir)])
    return code, capsys.readouterr().out


async def test_the_clouds_snapshot_supersedes_a_hand_imported_newer_version(
        tmp_path: Path, catalog_db: CatalogDb, catalog_sync: CatalogSync, catalog_server: CatalogServer) -> None:
    hand_import(tmp_path, catalog_db, version=17)
    await pull(catalog_sync)
    status = catalog_db.status()
    assert catalog_sync.last_error is None and (status.version, status.source) == (1, "cloud")
    assert catalog_db.product(gtin_for(HAND_MADE)) is None and catalog_db.product(gtin_for(7)) is not None


async def test_status_and_health_say_when_the_catalog_is_not_the_clouds(
        tmp_path: Path, catalog_db: CatalogDb, catalog_sync: CatalogSync, catalog_server: CatalogServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    await pull(catalog_sync)
    catalog_sync.report()
    assert catalog_sync.health.state == State.OK
    assert "from the cloud" in status_text(catalog_db, capsys)[1]
    hand_import(tmp_path, catalog_db)
    code, text = status_text(catalog_db, capsys)
    assert code == 0 and "imported by hand" in text and "test-v17.jsonl" in text and "cloud" in text
    main(["catalog", "status", "--json", "--state-dir", str(catalog_db.state_dir)])
    assert json.loads(capsys.readouterr().out)["source"] == "import"
    catalog_sync.report()
    health = catalog_sync.health.snapshot()
    assert health["state"] == "degraded" and "imported by hand" in health["reason"]
    assert health["details"]["source"] == "import"


async def test_without_a_cloud_a_hand_import_is_ok_and_still_says_so(tmp_path: Path, catalog_db: CatalogDb) -> None:
    sync = CatalogSync(catalog_db, None, max_age_s=3600, poll_interval_s=3600)
    hand_import(tmp_path, catalog_db)
    sync.report()
    assert sync.health.state == State.OK and "imported by hand" in sync.health.reason


async def test_a_replayed_older_cloud_snapshot_is_still_refused_after_a_hand_import(
        tmp_path: Path, catalog_db: CatalogDb, catalog_sync: CatalogSync, catalog_server: CatalogServer) -> None:
    catalog_server.publish(version=5)
    await pull(catalog_sync)
    hand_import(tmp_path, catalog_db, version=17)
    catalog_server.publish(version=3)            # older than the cloud catalog this lane already had
    await pull(catalog_sync)
    assert catalog_db.status().version == 17 and "older" in (catalog_sync.last_error or "")
    catalog_server.publish(version=5)            # the cloud's current one: supersedes the import
    await pull(catalog_sync)
    assert (catalog_db.status().version, catalog_db.status().source) == (5, "cloud")


async def test_a_catalog_from_an_older_agent_is_superseded_by_the_clouds(
        tmp_path: Path, catalog_db: CatalogDb, catalog_sync: CatalogSync, catalog_server: CatalogServer) -> None:
    """A lane wedged before sources existed: its version-17 file has no source; the cloud's v1 replaces it."""
    hand_import(tmp_path, catalog_db, version=17)
    name = read_pointer(catalog_db.state_dir)
    assert name is not None
    db = catalog_db.database
    assert db is not None
    await db.write(lambda conn: conn.execute("DELETE FROM meta WHERE key IN ('source', 'cloud_version', "
                                             "'imported_from')"))
    assert catalog_db.status().source == "unknown"
    await pull(catalog_sync)
    assert (catalog_db.status().version, catalog_db.status().source) == (1, "cloud")


async def test_catalog_reset_drops_the_hand_import_and_the_agent_pulls_the_clouds(
        tmp_path: Path, catalog_db: CatalogDb, catalog_sync: CatalogSync, catalog_server: CatalogServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    hand_import(tmp_path, catalog_db, version=17)
    capsys.readouterr()
    assert main(["catalog", "reset", "--state-dir", str(catalog_db.state_dir)]) == 0
    assert "version 17" in capsys.readouterr().out
    assert read_pointer(catalog_db.state_dir) is None
    assert status_text(catalog_db, capsys)[0] == 1           # no catalog loaded
    await catalog_sync.follow_pointer_once()                  # what the running agent does within a minute
    assert not catalog_db.status().loaded and catalog_sync.pull_requested
    await pull(catalog_sync)
    assert (catalog_db.status().version, catalog_db.status().source) == (1, "cloud")
    files = sorted(p.name for p in catalog_db.state_dir.glob("catalog-v17-*"))
    assert files == [], files


def test_reset_without_a_catalog_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "reset", "--state-dir", str(tmp_path / "state")]) == 0
    assert "no catalog" in capsys.readouterr().out


def test_an_imported_catalogs_file_records_its_source_and_file(tmp_path: Path, catalog_db: CatalogDb) -> None:
    hand_import(tmp_path, catalog_db, version=4)
    name = read_pointer(catalog_db.state_dir)
    conn = sqlite3.connect(f"file:{catalog_db.state_dir / str(name)}?mode=ro", uri=True)
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta"))
    finally:
        conn.close()
    assert meta["source"] == "import" and meta["imported_from"].endswith("test-v4.jsonl")
