"""This lane's pickup claims in lane.db: one row per order, each step written with its `omo.pickup/1` event.

Why a row per order and not per attempt: the question every scan asks is "what is this lane's claim on the
order now" (being opened, collected, failed and free to try again), and the events already keep the
history. Every function runs inside the caller's write transaction, so a claim and its event commit together
or not at all: the cloud never hears of a claim lane.db does not hold, nor the other way round.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from agent.session.rules import pickup_rules
from agent.session.rules.pickup_rules import Claim, Plan, Refused
from agent.store import Migration
from agent.sync import outbox

COMPONENT = "pickup"
MIGRATIONS = [
    Migration("m001_pickup_claims", """
        CREATE TABLE pickup_claims (
            order_id TEXT PRIMARY KEY,
            claim_id TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('processing', 'collected', 'failed')),
            compartment TEXT NOT NULL,
            member_id TEXT NOT NULL,
            session_id TEXT,
            offline INTEGER NOT NULL,
            catalog_version INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            claimed_at REAL NOT NULL,
            reason TEXT,
            updated_at REAL NOT NULL);
        CREATE INDEX pickup_claims_processing ON pickup_claims (state) WHERE state = 'processing';
    """),
]
_COLUMNS = ("order_id, claim_id, state, compartment, member_id, session_id, offline, catalog_version, attempt, "
            "claimed_at, reason")


def get(conn: sqlite3.Connection, order_id: str) -> Claim | None:
    """This lane's claim on the order (its latest attempt), or None if the lane never claimed it."""
    row = conn.execute(f"SELECT {_COLUMNS} FROM pickup_claims WHERE order_id = ?", (order_id,)).fetchone()  # noqa: S608
    return None if row is None else _claim(row)


def begin(conn: sqlite3.Connection, decided: Plan, claim_id: str, locker: str, now: float) -> Claim | Refused:
    """Claim the order (`processing`), unless this lane's claim stops it now (a scan a moment earlier won)."""
    before = get(conn, decided.order_id)
    problem = pickup_rules.claim_problem(before)
    if problem is not None:
        outbox.enqueue(conn, *pickup_rules.refused_event(
            problem, order_id=decided.order_id, member_id=decided.member_id, session_id=decided.session_id,
            offline=decided.offline, catalog_version=decided.catalog_version))
        return problem
    claim = pickup_rules.new_claim(decided, before, claim_id, now)
    record(conn, claim, locker, now)
    return claim


def record(conn: sqlite3.Connection, claim: Claim, locker: str, now: float) -> None:
    """Store the claim as it now stands and enqueue the event of this step (the claim's ID names `processing`)."""
    conn.execute(
        f"INSERT INTO pickup_claims ({_COLUMNS}, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "  # noqa: S608
        "ON CONFLICT (order_id) DO UPDATE SET claim_id = excluded.claim_id, state = excluded.state, "
        "compartment = excluded.compartment, member_id = excluded.member_id, session_id = excluded.session_id, "
        "offline = excluded.offline, catalog_version = excluded.catalog_version, attempt = excluded.attempt, "
        "claimed_at = excluded.claimed_at, reason = excluded.reason, updated_at = excluded.updated_at",
        (claim.order_id, claim.claim_id, claim.state, claim.compartment, claim.member_id, claim.session_id,
         int(claim.offline), claim.catalog_version, claim.attempt, claim.claimed_at, claim.reason, now))
    topic_class, schema, body = pickup_rules.claim_event(claim, locker, now)
    outbox.enqueue(conn, topic_class, schema, body,
                   event_id=claim.claim_id if claim.state == pickup_rules.PROCESSING else None)


def interrupt(conn: sqlite3.Connection, locker: str, now: float) -> list[Claim]:
    """At start: claims left `processing` by a lane that stopped mid-open are failed (`interrupted`), so the
    shopper may scan again; whether that door opened nobody knows, and opening it again is harmless."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM pickup_claims WHERE state = 'processing'").fetchall()  # noqa: S608
    failed = [pickup_rules.finished(_claim(row), "interrupted") for row in rows]
    for claim in failed:
        record(conn, claim, locker, now)
    return failed


def _claim(row: tuple[Any, ...]) -> Claim:
    order_id, claim_id, state, compartment, member_id, session_id, offline, version, attempt, claimed_at, reason = row
    return Claim(order_id, claim_id, state, compartment, member_id, session_id, bool(offline), version, attempt,
                 claimed_at, reason)
