"""The visit in lane.db: the current session value (one row, rewritten with every change) and a row per visit.

Why the whole value in one row: after `kill -9` or a power cut the lane must come back with the basket,
member, discounts, interventions and prompts exactly as the last committed change left them, and one JSON
row read back by `agent/session/rules/codec.py` is the simplest thing that is exactly that. It is written in the
same transaction as the events the change caused, so the screen, lane.db and the cloud never disagree.
"""

from __future__ import annotations

import sqlite3

from agent.session.rules import codec
from agent.session.rules.basket import Session
from agent.store import Migration

COMPONENT = "session"
MIGRATIONS = [
    Migration("m001_visits", """
        CREATE TABLE lane_session (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            body TEXT NOT NULL,
            updated_at REAL NOT NULL);
        CREATE TABLE visits (
            session_id TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            member_id TEXT,
            started_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            sale_id TEXT);
        CREATE TABLE coupon_redemptions (
            coupon_id TEXT NOT NULL,
            jti TEXT,
            sale_id TEXT NOT NULL,
            redeemed_at REAL NOT NULL);
        CREATE INDEX coupon_redemptions_coupon ON coupon_redemptions (coupon_id);
    """),
    Migration("m002_suspended", """
        CREATE TABLE suspended (
            code TEXT PRIMARY KEY,
            body TEXT NOT NULL,
            suspended_at REAL NOT NULL,
            resumed_at REAL);
    """),
    Migration("m003_points_ledger", """
        CREATE TABLE points_ledger (
            member_id TEXT NOT NULL,
            sale_id TEXT NOT NULL,
            points INTEGER NOT NULL CHECK (points > 0),   -- redeemed in this lane's sale
            as_of_version INTEGER NOT NULL,               -- the member record's version the balance was read at
            recorded_at REAL NOT NULL);
        CREATE INDEX points_ledger_member ON points_ledger (member_id, as_of_version);
    """),
]


def save(conn: sqlite3.Connection, session: Session, now: float) -> None:
    """Store the current value (inside the caller's transaction, with the events it caused)."""
    conn.execute("INSERT INTO lane_session (id, body, updated_at) VALUES (1, ?, ?) "
                 "ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
                 (codec.dumps(session), now))
    if session.session_id:
        conn.execute("INSERT INTO visits (session_id, state, member_id, started_at, updated_at, sale_id) "
                     "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET state = excluded.state, "
                     "member_id = excluded.member_id, updated_at = excluded.updated_at, sale_id = excluded.sale_id",
                     (session.session_id, session.state.value,
                      None if session.member is None else session.member.member_id, session.started_at, now,
                      session.sale_id))


def load(conn: sqlite3.Connection) -> Session | None:
    """The value the last committed change left, or None on a new lane.db."""
    row = conn.execute("SELECT body FROM lane_session WHERE id = 1").fetchone()
    return None if row is None else codec.loads(row[0])


def redeem_coupons(conn: sqlite3.Connection, coupons: list[tuple[str, str | None]], sale_id: str, now: float) -> None:
    conn.executemany("INSERT INTO coupon_redemptions VALUES (?, ?, ?, ?)",
                     [(coupon_id, jti, sale_id, now) for coupon_id, jti in coupons])


def coupon_uses(conn: sqlite3.Connection, coupon_id: str) -> int:
    """How often this lane redeemed the coupon in a completed sale (the cloud reconciles across lanes)."""
    return int(conn.execute("SELECT count(*) FROM coupon_redemptions WHERE coupon_id = ?", (coupon_id,)).fetchone()[0])


def spend_points(conn: sqlite3.Connection, member_id: str, sale_id: str, points: int, version: int | None,
                 now: float) -> None:
    """Record points a sale redeemed, in the sale's transaction, against the balance version they came off."""
    conn.execute("INSERT INTO points_ledger VALUES (?, ?, ?, ?, ?)", (member_id, sale_id, points, version or 0, now))


def points_spent(conn: sqlite3.Connection, member_id: str, version: int | None) -> int:
    """What the member redeemed at this lane that the cloud's balance of `version` does not include yet.

    The cloud's member record supersedes the ledger: a record newer than the balance a redemption came off is
    taken to include it (the cloud computes balances from the sales the lanes send), so only rows recorded
    against `version` or a newer one still count."""
    row = conn.execute("SELECT COALESCE(SUM(points), 0) FROM points_ledger WHERE member_id = ? AND as_of_version >= ?",
                       (member_id, version or 0)).fetchone()
    return int(row[0])


def return_points(conn: sqlite3.Connection, sale_id: str) -> None:
    """A reversed sale gives its points back (the cloud does the same from the reversal's event)."""
    conn.execute("DELETE FROM points_ledger WHERE sale_id = ?", (sale_id,))


def suspend(conn: sqlite3.Connection, code: str, session: Session, now: float) -> None:
    """Keep a suspended basket under its code until it is resumed (here, or by the cloud at a staffed register)."""
    conn.execute("INSERT INTO suspended (code, body, suspended_at) VALUES (?, ?, ?)", (code, codec.dumps(session), now))


def suspended(conn: sqlite3.Connection, code: str) -> Session | None:
    """The basket suspended under `code`, unless it was already resumed."""
    row = conn.execute("SELECT body FROM suspended WHERE code = ? AND resumed_at IS NULL", (code,)).fetchone()
    return None if row is None else codec.loads(row[0])


def mark_resumed(conn: sqlite3.Connection, code: str, now: float) -> None:
    conn.execute("UPDATE suspended SET resumed_at = ? WHERE code = ?", (now, code))
