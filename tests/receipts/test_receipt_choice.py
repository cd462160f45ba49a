"""The receipt a sale starts with: a member's choice from the app (the member record's `receipt`, through the
catalog), else the lane's default; a member record with another value is refused at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.app import catalog_member_choice
from agent.catalog.db import CatalogDb
from agent.catalog.fields import CatalogLineError
from agent.catalog.load import load_snapshot
from agent.receipts.choice import first_choice
from simulators.cloud.catalog_data import write_lines


def members(tmp_path: Path, *lines: dict[str, object]) -> CatalogDb:
    catalog = CatalogDb.open(tmp_path / "state")
    load_snapshot(catalog, write_lines(tmp_path / "members.jsonl", lines, version=1))
    return catalog


def test_a_member_who_chose_no_receipt_in_the_app_starts_at_none(tmp_path: Path) -> None:
    catalog = members(tmp_path, {"kind": "member", "id": "M-1", "tier": "gold", "receipt": "none", "version": 1},
                      {"kind": "member", "id": "M-2", "tier": "gold", "version": 1})
    try:
        choice = catalog_member_choice(catalog)
        assert (choice("M-1"), choice("M-2"), choice("M-404")) == ("none", None, None)
        assert first_choice("paper", choice("M-1")) == "none"
        assert first_choice("paper", choice("M-2")) == "paper", "no choice in the app: the lane's default"
        assert first_choice("app", None) == "app"
    finally:
        catalog.close()


def test_a_member_record_with_another_receipt_is_refused_naming_the_field(tmp_path: Path) -> None:
    with pytest.raises(CatalogLineError, match="receipt"):
        members(tmp_path, {"kind": "member", "id": "M-1", "tier": "gold", "receipt": "email", "version": 1})
