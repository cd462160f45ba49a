"""The offline policy's lookup (agent/session/offline.py `CatalogOffline`): kept for the rest of a second, but
never across a new catalog. A lane asked before its first catalog arrived refused a wallet payment made in the
same second the catalog loaded ("not possible while the store is offline")."""

from __future__ import annotations

from pathlib import Path

from agent.catalog.db import CatalogDb
from agent.catalog.load import load_snapshot
from agent.session.offline import CatalogOffline
from simulators.cloud.catalog_data import write_lines
from simulators.cloud.store_catalog import records
from simulators.doubles.clock import FakeClock


def test_a_catalog_loaded_within_the_second_ends_the_offline_policy_at_once(tmp_path: Path) -> None:
    clock = FakeClock()
    catalog = CatalogDb.open(tmp_path / "state", clock=clock)
    try:
        offline = CatalogOffline(catalog)
        assert offline() is not None, "no catalog yet: the offline policy applies"
        load_snapshot(catalog, write_lines(tmp_path / "store.jsonl", records(), version=1))
        assert offline() is None, "the catalog the cloud just sent is fresh"
    finally:
        catalog.close()


def test_the_answer_is_kept_within_the_second_and_asked_again_after_it(tmp_path: Path) -> None:
    clock = FakeClock()
    catalog = CatalogDb.open(tmp_path / "state", clock=clock)
    try:
        load_snapshot(catalog, write_lines(tmp_path / "store.jsonl", records(), version=1))
        offline = CatalogOffline(catalog, max_age_s=60)
        assert offline() is None
        clock.advance(61)
        assert offline() is not None, "past max_age_s without word from the cloud: stale"
    finally:
        catalog.close()
