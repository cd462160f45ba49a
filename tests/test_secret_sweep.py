"""The card-data sweep finds a secret wherever it was written: a deleted row's bytes in lane.db or its WAL, a
log line, a payload, a PAN printed in groups; it names the place and the label, never the value."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from simulators.trials.secret_sweep import Secret, assert_clean, database_files, sweep

PAN = "4111111111111111"
WALLET = "281234567890123456"


def lane_db_with_a_deleted_row(state: Path, value: str) -> sqlite3.Connection:
    """A WAL database whose row holding `value` was deleted: the row is gone, its bytes are not."""
    state.mkdir()
    conn = sqlite3.connect(state / "lane.db")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE notes (body TEXT)")
    with conn:
        conn.execute("INSERT INTO notes VALUES (?)", (f"paid with {value}",))
    with conn:
        conn.execute("DELETE FROM notes")
    assert conn.execute("SELECT count(*) FROM notes").fetchone()[0] == 0
    return conn


def test_a_deleted_row_is_still_found_in_the_database_files(tmp_path: Path) -> None:
    conn = lane_db_with_a_deleted_row(tmp_path / "state", WALLET)
    try:
        with pytest.raises(AssertionError, match=r"wallet code in .*lane\.db") as failure:
            assert_clean({"wallet code": WALLET}, state_dirs=[tmp_path / "state"])
        assert WALLET not in str(failure.value), "the report must not print the secret"
        assert {p.name for p in database_files(tmp_path / "state")} >= {"lane.db", "lane.db-wal"}
    finally:
        conn.close()


def test_a_clean_lane_passes_and_says_what_it_read(tmp_path: Path) -> None:
    conn = lane_db_with_a_deleted_row(tmp_path / "state", "nothing secret")
    try:
        result = assert_clean({"wallet code": WALLET}, state_dirs=[tmp_path / "state"], logs={"agent": "scan ok"},
                              payloads={"mqtt": [{"text": "************3456"}]})
    finally:
        conn.close()
    assert result.scanned[str(tmp_path / "state" / "lane.db-wal")] > 0 and "payload:mqtt#0" in result.scanned


@pytest.mark.parametrize("written", [PAN, "4111 1111 1111 1111", "4111-1111-1111-1111"])
def test_a_pan_is_found_as_printed_in_groups_too(written: str) -> None:
    found = sweep([Secret("PAN", PAN)], logs={"agent": f"card={written} declined"}).leaks
    assert [(leak.secret, leak.where) for leak in found] == [("PAN", "log:agent")]


def test_a_token_signature_in_a_payload_is_named_by_index() -> None:
    signature = "kq3X0l9m2Zt7-_abcdEFGH"
    found = sweep({"token signature": signature}, payloads={"mqtt": [{"a": 1}, {"text": f"x.y.{signature}"}]}).leaks
    assert [leak.where for leak in found] == ["payload:mqtt#1"]


def test_a_sweep_of_nothing_fails(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="no lane.db"):
        assert_clean({"wallet code": WALLET}, state_dirs=[tmp_path])
    with pytest.raises(AssertionError, match="empty"):
        assert_clean({"wallet code": WALLET}, logs={"agent": ""})
    with pytest.raises(AssertionError, match="no payloads"):
        assert_clean({"wallet code": WALLET}, payloads={"mqtt": []})
