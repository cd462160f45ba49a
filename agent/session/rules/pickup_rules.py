"""What scanning an online order's QR code does (pure): the checks before a locker opens, the door, the events.

Rules, in the words the screen uses (docs/session.md "Pickup"):
- an order the catalog does not know, one belonging to another member (the token's `sub` or the member
  identified in the visit), one collected already (the cloud's cached status, or this lane's own claim), one
  being opened right now, and one cancelled or not ready yet are refused: a prompt, and an `omo.pickup/1`
  event with state `refused` and the reason;
- otherwise the lane claims the order (`processing`), asks the locker to open its compartment and records
  `collected`, or `failed` with the reason. A failed order may be tried again: a new claim, the next attempt;
- the compartment is the one the cloud gave the order (`locker` in the catalog line), else one of
  "1".."compartments" derived from the order ID, the same on every lane, so staff know where to load it;
- a stale catalog (offline) does not stop a claim: it is recorded and flagged `offline`. Two lanes may then
  claim one order; the cloud keeps the first claim, by `claimed_at` and then `claim_id` (the claim's
  `processing` event ID, a time-ordered UUIDv7), and reports the others to staff.
A pickup never touches the basket: it may happen in the middle of a visit or with none.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from agent.catalog.records import Order
from agent.clock import rfc3339_ms
from agent.interpret.meanings import PickupOrder
from agent.session.rules.basket import Prompt, Session, with_prompt
from agent.session.rules.machine import SessionState
from agent.session.rules.visit_change import Change, EventRow, refuse, touched

SCHEMA = "omo.pickup/1"
TOPIC_CLASS = "sessions"
COLLECTABLE = "ready"                       # the cloud's order status for "packed and in its compartment"
PROCESSING, COLLECTED, FAILED, REFUSED = "processing", "collected", "failed", "refused"
NOT_NOW = {
    SessionState.PAYING: ("pickup_after_payment", "Please finish paying first, then scan your order again."),
    SessionState.NEEDS_ATTENDANT: ("pickup_wait_for_staff", "A member of staff is coming to help. Please scan "
                                   "your order after that."),
    SessionState.LOCKED: ("lane_locked", "This lane is closed. Please use another register."),
}
FAILURES = {
    "jammed": "the door is stuck",
    "offline": "the locker is not answering",
    "timeout": "the locker did not answer in time",
    "no_such_compartment": "the locker has no such compartment",
    "interrupted": "the lane restarted while it was opening",
}


@dataclass(frozen=True, slots=True)
class Claim:
    """This lane's claim on one order, as lane.db keeps it (one row per order, the latest attempt)."""

    order_id: str
    claim_id: str               # the event ID of this attempt's `processing` event
    state: str                  # processing | collected | failed
    compartment: str
    member_id: str
    session_id: str | None
    offline: bool               # the catalog was stale when the lane claimed it
    catalog_version: int
    attempt: int                # 1, 2, ... on this lane
    claimed_at: float
    reason: str | None = None   # failed: why (a locker fault, timeout, interrupted)


@dataclass(frozen=True, slots=True)
class PickupFacts:
    """What the catalog and lane.db said about the order, read before the change is computed."""

    order: Order | None
    claim: Claim | None         # this lane's claim, if it ever claimed the order
    stale: bool
    catalog_version: int
    compartments: int           # [pickup] compartments: the range a derived compartment falls in


@dataclass(frozen=True, slots=True)
class Plan:
    """A pickup the checks let through: what its claim records and which door to open."""

    order_id: str
    member_id: str
    compartment: str
    session_id: str | None
    offline: bool
    catalog_version: int


@dataclass(frozen=True, slots=True)
class Refused:
    code: str                   # the prompt's code
    reason: str                 # the event's reason
    message: str


def compartment_for(order: Order, compartments: int) -> str:
    """The cloud's compartment for the order, else one of "1".."compartments" that every lane derives alike."""
    if order.locker:
        return order.locker
    digest = hashlib.sha256(order.order_id.encode("utf-8")).digest()
    return str(1 + int.from_bytes(digest[:8], "big") % compartments)


def plan(session: Session, meaning: PickupOrder, facts: PickupFacts) -> Plan | Refused:
    """The claim to make, or why the order cannot be handed over at this lane now."""
    if session.state in NOT_NOW:
        code, message = NOT_NOW[session.state]
        return Refused(code, code, message)
    order = facts.order
    if order is None:
        return Refused("pickup_unknown", "order_unknown", "This order is not known here. Please check the store in "
                       "your app, or ask at the service counter.")
    identified = session.member.member_id if session.member and session.state is SessionState.SCANNING else None
    holder = order.member_id or meaning.member_id
    if holder != meaning.member_id or (identified is not None and identified != holder):
        return Refused("pickup_other_member", "order_other_member", "This order belongs to another member. Please "
                       "show the app of the member who ordered it.")
    problem = claim_problem(facts.claim) or _status_problem(order.status)
    if problem is not None:
        return problem
    return Plan(order.order_id, meaning.member_id, compartment_for(order, facts.compartments),
                session.session_id or None, facts.stale, facts.catalog_version)


def claim_problem(claim: Claim | None) -> Refused | None:
    """Whether this lane's own claim stops a new one (checked again inside the claim's transaction)."""
    if claim is None or claim.state == FAILED:
        return None
    if claim.state == COLLECTED:
        return _collected()
    return Refused("pickup_in_progress", "order_in_progress", f"Compartment {claim.compartment} is opening for "
                   "this order. Please wait.")


def _status_problem(status: str) -> Refused | None:
    if status == COLLECTABLE:
        return None
    if status == COLLECTED:
        return _collected()
    if status == "cancelled":
        return Refused("pickup_cancelled", "order_cancelled", "This order was cancelled. Please ask at the service "
                       "counter.")
    return Refused("pickup_not_ready", "order_not_ready", "This order is not ready for collection yet. Your app "
                   "will tell you when it is.")


def _collected() -> Refused:
    return Refused("pickup_already_collected", "order_collected", "This order has already been collected. If that was "
                   "not you, please ask at the service counter.")


def on_order(session: Session, meaning: PickupOrder, facts: PickupFacts | None, *, now: float) -> Change:
    """The scan's change: refused with its prompt and event, or accepted (the claim and the door come next)."""
    if facts is None:               # [pickup] locker = "none": this lane hands no orders over
        return refuse(session, "pickup_at_staffed_register", "Online orders are collected at the service counter "
                      "for now.", "info", outcome="rejected", reason="pickup_not_available")
    decided = plan(session, meaning, facts)
    scan_fields: dict[str, Any] = {"member_id": meaning.member_id, "session_id": session.session_id or None}
    if isinstance(decided, Refused):
        event = refused_event(decided, order_id=meaning.order_id, member_id=meaning.member_id,
                              session_id=session.session_id or None, offline=facts.stale,
                              catalog_version=facts.catalog_version,
                              order_status=None if facts.order is None else facts.order.status)
        change = refuse(session, decided.code, decided.message, outcome="rejected", reason=decided.reason,
                        **scan_fields)
        return replace(change, events=(event,))
    opening = Prompt("pickup_opening", f"Opening compartment {decided.compartment} for order {decided.order_id}.",
                     args={"compartment": decided.compartment, "order": decided.order_id})
    return Change(with_prompt(touched(session, now), opening), scan_fields={**scan_fields, "outcome": "accepted"})


def refused_event(refused: Refused, *, order_id: str, member_id: str, session_id: str | None, offline: bool,
                  catalog_version: int, order_status: str | None = None) -> EventRow:
    """The `omo.pickup/1` event of a refused pickup: the cloud sees every attempt on an order, not only claims."""
    body: dict[str, Any] = {"session_id": session_id or "-", "event": "pickup", "order_id": order_id,
                            "state": REFUSED, "reason": refused.reason, "member_id": member_id, "offline": offline,
                            "catalog_version": catalog_version}
    if order_status is not None:
        body["order_status"] = order_status
    return (TOPIC_CLASS, SCHEMA, body)


def new_claim(decided: Plan, before: Claim | None, claim_id: str, now: float) -> Claim:
    return Claim(decided.order_id, claim_id, PROCESSING, decided.compartment, decided.member_id, decided.session_id,
                 decided.offline, decided.catalog_version, 1 if before is None else before.attempt + 1, now)


def finished(claim: Claim, reason: str | None) -> Claim:
    """The claim after the locker answered: collected, or failed with `reason`."""
    return replace(claim, state=COLLECTED if reason is None else FAILED, reason=reason)


def claim_event(claim: Claim, locker: str, now: float) -> EventRow:
    """The `omo.pickup/1` event of one step of a claim (processing, collected, failed) that happened at `now`."""
    body: dict[str, Any] = {
        "occurred_at": rfc3339_ms(datetime.fromtimestamp(now, UTC)),
        "session_id": claim.session_id or "-", "event": "pickup", "order_id": claim.order_id, "state": claim.state,
        "claim_id": claim.claim_id, "claimed_at": rfc3339_ms(datetime.fromtimestamp(claim.claimed_at, UTC)),
        "attempt": claim.attempt, "compartment": claim.compartment, "locker": locker, "member_id": claim.member_id,
        "offline": claim.offline, "catalog_version": claim.catalog_version}
    if claim.reason is not None:
        body["reason"] = claim.reason
    return (TOPIC_CLASS, SCHEMA, body)


def result_prompt(claim: Claim) -> Prompt:
    """What the screen says once the locker answered."""
    if claim.state == COLLECTED:
        return Prompt("pickup_collected", f"Compartment {claim.compartment} is open. Please take order "
                      f"{claim.order_id} and close the door.",
                      args={"compartment": claim.compartment, "order": claim.order_id})
    why = FAILURES.get(claim.reason or "", "the locker reported a fault")
    return Prompt("pickup_failed", f"Compartment {claim.compartment} did not open: {why}. Please scan your order "
                  "again, or ask a member of staff.", "error", args={"compartment": claim.compartment})


def announce(session: Session, prompt: Prompt) -> Change:
    """Show the pickup's outcome, unless a payment owns the screen now (its prompt must stay)."""
    if session.state is SessionState.PAYING:
        return Change(session)
    return Change(with_prompt(session, prompt))
