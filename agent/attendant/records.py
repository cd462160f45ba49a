"""The attendant commands the lane has answered, by command ID (jti), in lane.db: a command is applied once and
a replay is refused, even after a restart (docs/architecture.md, "The attendant station, lane side").

A decision commits in the same transaction as its row (the controller's `also`), so a crash cannot leave a call
resolved with the command still claimable, nor the command burnt without its decision.
"""

from __future__ import annotations

import sqlite3

from agent.store import Migration

COMPONENT = "attendant"
KEEP_S = 86_400   # rows are kept a day past the command's expiry: far beyond any clock allowance

MIGRATIONS: list[Migration] = [
    Migration("m001_attendant_commands", """
        CREATE TABLE attendant_commands (
            jti TEXT PRIMARY KEY, station_id TEXT NOT NULL, action TEXT NOT NULL, staff_id TEXT,
            outcome TEXT NOT NULL, reason TEXT, expires_at REAL NOT NULL,
            done_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ')));
        CREATE INDEX attendant_commands_expires ON attendant_commands (expires_at);
    """),
]


def seen(conn: sqlite3.Connection, jti: str) -> bool:
    return conn.execute("SELECT 1 FROM attendant_commands WHERE jti = ?", (jti,)).fetchone() is not None


def record(conn: sqlite3.Connection, jti: str, station_id: str, action: str, staff_id: str | None, outcome: str,
           reason: str | None, expires_at: float, now: float) -> None:
    """The command's row; a second row for one jti fails the caller's transaction (applied once)."""
    conn.execute("DELETE FROM attendant_commands WHERE expires_at < ?", (now - KEEP_S,))
    conn.execute("INSERT INTO attendant_commands (jti, station_id, action, staff_id, outcome, reason, expires_at) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?)", (jti, station_id, action, staff_id, outcome, reason, expires_at))
