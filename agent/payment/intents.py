"""Payment intents in lane.db: each payment attempt is a row committed before the service hears of it.

Why a row per attempt, written first: the dangerous failure is the ambiguous one (the service charged the
shopper, its reply never came, or the lane died between the charge and the sale). With the intent on disk
before any call, a restarted lane knows every payment that might have moved money, asks the service about
each by the same ID (`payment_id` is the `merchantPaymentId`) and never creates one blindly.

States, each committed when it is reached (docs/payment.md draws the graph):
- `created`: recorded, not yet sent. A lane that died here never called the service.
- `requested`: about to be sent, or sent with no answer yet.
- `waiting`: the service holds it and the shopper has not finished (a dynamic QR shown, or confirming in the app).
- `unknown`: no usable answer (timeout, reset, 5xx); settled only by status queries with the same ID.
- `cancelling`: a cancel (or, once the cancel window has passed, a refund) is on its way.
- final: `succeeded` (the sale is recorded in the same transaction), `failed` (declined or never charged),
  `cancelled` (withdrawn, voided or refunded; `reversal` says why).

The row also keeps the basket as it was when payment was asked (`basket`, the session codec's JSON), so a
success learnt late, even after the visit has moved on, can still record exactly the sale that was charged.
A wallet code is never part of a row: it goes to the adapter only.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from agent.store import Migration

COMPONENT = "payments"


class IntentState(StrEnum):
    CREATED = "created"
    REQUESTED = "requested"
    WAITING = "waiting"
    UNKNOWN = "unknown"
    CANCELLING = "cancelling"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (IntentState.SUCCEEDED, IntentState.FAILED, IntentState.CANCELLED)


OPEN_STATES = tuple(s.value for s in IntentState if not s.final)

MIGRATIONS = [
    Migration("m001_payment_intents", """
        CREATE TABLE payment_intents (
            payment_id TEXT PRIMARY KEY,            -- the idempotency key sent to the service
            session_id TEXT NOT NULL,
            method TEXT NOT NULL,
            merchant_presented INTEGER NOT NULL,
            amount INTEGER NOT NULL,
            currency TEXT NOT NULL,
            state TEXT NOT NULL,
            code_id TEXT,                           -- merchant-presented: to withdraw the QR
            qr_payload TEXT,
            expires_at REAL,
            reference TEXT,                         -- the service's own payment ID
            reason TEXT,
            reversal TEXT,                          -- why a payment was cancelled or refunded by the lane
            sale_id TEXT,
            basket TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL);
        CREATE INDEX payment_intents_open ON payment_intents (state)
            WHERE state NOT IN ('succeeded', 'failed', 'cancelled');
        CREATE TABLE sale_reversals (               -- staff voids and refunds of recorded sales
            sale_id TEXT PRIMARY KEY,               -- one reversal per sale: a second request answers the first
            refund_id TEXT NOT NULL,                -- merchantRefundId
            payment_id TEXT NOT NULL,
            kind TEXT NOT NULL,                     -- cancel | refund
            amount INTEGER NOT NULL,
            state TEXT NOT NULL,                    -- requested | done | unknown
            staff_id TEXT NOT NULL,
            reason TEXT NOT NULL,
            reference TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL);
    """),
]


@dataclass(frozen=True, slots=True)
class Intent:
    payment_id: str
    session_id: str
    method: str
    merchant_presented: bool
    amount: int
    currency: str
    state: IntentState
    basket: str
    created_at: float
    updated_at: float
    code_id: str | None = None
    qr_payload: str | None = None
    expires_at: float | None = None
    reference: str | None = None
    reason: str | None = None
    reversal: str | None = None
    sale_id: str | None = None


COLUMNS = ("payment_id", "session_id", "method", "merchant_presented", "amount", "currency", "state", "basket",
           "created_at", "updated_at", "code_id", "qr_payload", "expires_at", "reference", "reason", "reversal",
           "sale_id")
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM payment_intents"  # noqa: S608 - fixed column names
UPDATABLE = frozenset({"code_id", "qr_payload", "expires_at", "reference", "reason", "reversal", "sale_id"})


def _intent(row: tuple[Any, ...]) -> Intent:
    values = dict(zip(COLUMNS, row, strict=True))
    values["merchant_presented"] = bool(values["merchant_presented"])
    values["state"] = IntentState(values["state"])
    return Intent(**values)


def create(conn: sqlite3.Connection, intent: Intent) -> None:
    conn.execute(f"INSERT INTO payment_intents ({', '.join(COLUMNS)}) "  # noqa: S608 - fixed column names
                 f"VALUES ({', '.join('?' * len(COLUMNS))})",
                 tuple(int(v) if isinstance(v, bool) else v for v in
                       (getattr(intent, c) for c in COLUMNS)))


def advance(conn: sqlite3.Connection, payment_id: str, state: IntentState, now: float, **fields: Any) -> Intent:
    """Move an intent to `state`; a final intent never moves again (StoreError-free: it answers the row as is)."""
    unknown = set(fields) - UPDATABLE
    if unknown:
        raise ValueError(f"not an updatable intent field: {sorted(unknown)}")
    current = get(conn, payment_id)
    if current is None:
        raise KeyError(payment_id)
    if current.state.final:
        return current
    sets = ", ".join(["state = ?", "updated_at = ?", *(f"{k} = ?" for k in fields)])
    conn.execute(f"UPDATE payment_intents SET {sets} WHERE payment_id = ?",  # noqa: S608 - column names are fixed
                 (state.value, now, *fields.values(), payment_id))
    found = get(conn, payment_id)
    assert found is not None
    return found


def get(conn: sqlite3.Connection, payment_id: str) -> Intent | None:
    row = conn.execute(f"{_SELECT} WHERE payment_id = ?", (payment_id,)).fetchone()  # noqa: S608
    return None if row is None else _intent(row)


def open_intents(conn: sqlite3.Connection) -> list[Intent]:
    """Every intent not final, oldest first: what recovery must reconcile before the lane takes a shopper."""
    marks = ", ".join("?" * len(OPEN_STATES))
    rows = conn.execute(f"{_SELECT} WHERE state IN ({marks}) ORDER BY created_at", OPEN_STATES).fetchall()  # noqa: S608
    return [_intent(row) for row in rows]


def for_sale(conn: sqlite3.Connection, sale_id: str) -> Intent | None:
    row = conn.execute(f"{_SELECT} WHERE sale_id = ?", (sale_id,)).fetchone()  # noqa: S608
    return None if row is None else _intent(row)


@dataclass(frozen=True, slots=True)
class Reversal:
    sale_id: str
    refund_id: str
    payment_id: str
    kind: str
    amount: int
    state: str
    staff_id: str
    reason: str
    reference: str | None
    created_at: float
    updated_at: float


def reversal(conn: sqlite3.Connection, sale_id: str) -> Reversal | None:
    row = conn.execute("SELECT sale_id, refund_id, payment_id, kind, amount, state, staff_id, reason, reference, "
                       "created_at, updated_at FROM sale_reversals WHERE sale_id = ?", (sale_id,)).fetchone()
    return None if row is None else Reversal(*row)


def begin_reversal(conn: sqlite3.Connection, rev: Reversal) -> Reversal:
    """Record a staff reversal before the service hears of it; an existing one for the sale is answered instead.

    An unfinished cancel asked again once `rev` says a refund (the cancel window has passed) becomes that
    refund, with the same `merchantRefundId`: the service would refuse the cancel by now."""
    existing = reversal(conn, rev.sale_id)
    if existing is not None and existing.state != "done" and (existing.kind, rev.kind) == ("cancel", "refund"):
        conn.execute("UPDATE sale_reversals SET kind = 'refund', updated_at = ? WHERE sale_id = ?",
                     (rev.updated_at, rev.sale_id))
        return replace(existing, kind="refund", updated_at=rev.updated_at)
    if existing is not None:
        return existing
    conn.execute("INSERT INTO sale_reversals VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (rev.sale_id, rev.refund_id, rev.payment_id, rev.kind, rev.amount, rev.state, rev.staff_id,
                  rev.reason, rev.reference, rev.created_at, rev.updated_at))
    return rev


def finish_reversal(conn: sqlite3.Connection, sale_id: str, state: str, reference: str | None, now: float) -> None:
    conn.execute("UPDATE sale_reversals SET state = ?, reference = COALESCE(?, reference), updated_at = ? "
                 "WHERE sale_id = ?", (state, reference, now, sale_id))
