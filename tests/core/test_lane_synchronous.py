"""lane.db is opened with synchronous=FULL; only the power-cut control may ask for NORMAL, and the agent says so."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agent.lane_db import TEST_SYNCHRONOUS_ENV, open_lane_db


def synchronous_of(state_dir: Path) -> int:
    db = open_lane_db(state_dir, "store-001", "lane-01")
    try:
        return int(db.write_blocking(lambda conn: conn.execute("PRAGMA synchronous").fetchone()[0]))
    finally:
        db.close()


def test_lane_db_is_opened_with_synchronous_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TEST_SYNCHRONOUS_ENV, raising=False)
    assert synchronous_of(tmp_path) == 2                   # FULL


def test_the_control_runs_normal_and_the_agent_logs_it_as_critical(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(TEST_SYNCHRONOUS_ENV, "normal")
    with caplog.at_level(logging.CRITICAL, logger="agent.lane_db"):
        assert synchronous_of(tmp_path) == 1               # NORMAL
    assert "power cut may lose paid sales" in caplog.text


def test_any_other_value_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_SYNCHRONOUS_ENV, "OFF")
    with pytest.raises(ValueError, match="only FULL or NORMAL"):
        open_lane_db(tmp_path, "store-001", "lane-01")
