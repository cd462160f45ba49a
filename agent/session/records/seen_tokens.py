"""Persistent `jti` replay cache in the lane database: a coupon or order token works once, a member token
identifies one session, and entries leave once the token could no longer pass its `exp` check anyway.

Every function takes the caller's sqlite3 connection and runs inside the caller's write transaction
(`await db.write(fn, ...)`), so that "token used" commits together with the scan it belongs to: a crash cannot
leave a coupon both applied and still claimable, nor burnt without being applied.
"""

from __future__ import annotations

import sqlite3

from agent.interpret.tokens import Claims, Rejection
from agent.store import Migration

COMPONENT = "replay"
# Types a holder may scan again within the session they first identified (a shopper rescanning the member QR,
# an attendant approving twice, a coupon scanned again after the basket changed); anything else (order) is
# single-use. A coupon becomes single-use for good when its visit ends in a sale: a visit that ends without
# one releases it (`release`), so the shopper keeps a coupon they did not spend.
PER_SESSION = ("member", "staff", "coupon")
RELEASED_ON_NO_SALE = ("coupon",)

MIGRATIONS: list[Migration] = [
    Migration("m001_replay_cache", """
        CREATE TABLE replay_cache (
            jti TEXT PRIMARY KEY,
            typ TEXT NOT NULL,
            sub TEXT NOT NULL,
            session_id TEXT,
            first_seen REAL NOT NULL,
            expires_at REAL NOT NULL
        );
        CREATE INDEX replay_cache_expires ON replay_cache (expires_at);
    """),
]


def claim(conn: sqlite3.Connection, claims: Claims, session_id: str | None, now: float,
          skew_s: int) -> Rejection | None:
    """Record the token's use; `Rejection.REPLAYED` when it was already used where it may not be again.

    `skew_s` must be the largest skew the verifier may apply (the unsynchronised one, if larger), so that an
    entry is never pruned while its token could still verify.
    """
    row = conn.execute("SELECT typ, session_id FROM replay_cache WHERE jti = ?", (claims.jti,)).fetchone()
    if row is None:
        conn.execute("INSERT INTO replay_cache VALUES (?, ?, ?, ?, ?, ?)",
                     (claims.jti, claims.typ, claims.sub, session_id, now, claims.exp + skew_s))
        return None
    typ, first_session = row
    if typ == claims.typ and typ in PER_SESSION and session_id is not None and first_session == session_id:
        return None
    return Rejection.REPLAYED


def release(conn: sqlite3.Connection, session_id: str) -> int:
    """The visit ended without a sale: its coupons may be used again (returns how many were released)."""
    marks = ", ".join("?" * len(RELEASED_ON_NO_SALE))
    return conn.execute(f"DELETE FROM replay_cache WHERE session_id = ? AND typ IN ({marks})",  # noqa: S608
                        (session_id, *RELEASED_ON_NO_SALE)).rowcount


def seen(conn: sqlite3.Connection, jti: str) -> bool:
    """Whether a token ID is in the cache (for status pages and tests; claiming is `claim`)."""
    return conn.execute("SELECT 1 FROM replay_cache WHERE jti = ?", (jti,)).fetchone() is not None


def prune(conn: sqlite3.Connection, now: float) -> int:
    """Forget tokens past `exp + skew`; they would be refused as expired now. Returns rows removed."""
    return conn.execute("DELETE FROM replay_cache WHERE expires_at < ?", (now,)).rowcount
