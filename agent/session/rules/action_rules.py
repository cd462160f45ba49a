"""What the shopper and staff do besides scanning (pure): void, pay, cancel, approve, reject, suspend, lock.

Each returns a `Change` through the state machine, so a refused action names its reason and what to do. Two
kinds of event leave with these changes: session events (`omo.session/1`) and interest events
(`omo.interest/1`, "scanned but not bought": voided lines and baskets that were cancelled or abandoned),
which carry the member ID only when the member consented (`consent_interest`), else a pseudonym that is
stable within the visit and says nothing about the shopper.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from agent.catalog.records import OfflinePolicy
from agent.interpret.meanings import StaffCode
from agent.interpret.tokens import Claims
from agent.session.rules import audit_rules, machine
from agent.session.rules.attendant_rules import settled
from agent.session.rules.basket import (
    BasketLine,
    PaymentState,
    Prompt,
    Session,
    add_intervention,
    idle_session,
    resolve_oldest,
    void_line,
    with_prompt,
)
from agent.session.rules.machine import Refusal, SessionState
from agent.session.rules.state_step import advance
from agent.session.rules.visit_change import Change, EventRow, refuse, session_event, touched
from agent.session.settings import SessionSection

DEFAULT_POLICY = OfflinePolicy()      # the catalog's policy before the cloud sent any key


def shopper_ref(session: Session) -> dict[str, str]:
    """Who an interest event is about: the member when they consented, else a per-visit pseudonym."""
    if session.member is not None and session.member.consent_interest:
        return {"member_id": session.member.member_id}
    return {"pseudonym": "p-" + hashlib.sha256(session.session_id.encode()).hexdigest()[:20]}


def interest_event(session: Session, reason: str, lines: tuple[BasketLine, ...]) -> EventRow:
    body: dict[str, Any] = {"session_id": session.session_id, "reason": reason, **shopper_ref(session),
                            "items": [{"gtin": line.gtin, "quantity": line.quantity} for line in lines]}
    return ("scans", "omo.interest/1", body)


def void(session: Session, line_id: str, settings: SessionSection, now: float) -> Change:
    line = session.line(line_id)
    if line is None or line.voided:
        return refuse(session, "no_such_line", "That line is not in the basket.")
    moved = advance(session, machine.LineVoided(), settings.max_failed_payments)
    if isinstance(moved, Refusal):
        return refuse(session, moved.reason, moved.message)
    session = touched(void_line(moved[0], line_id), now)
    session = with_prompt(session, Prompt("line_voided", f"{line.name} removed."))
    events = (session_event(session, "line_voided", line_id=line_id, gtin=line.gtin, quantity=line.quantity),
              interest_event(session, "voided", (line,)))
    return Change(session, events)


def request_payment(session: Session, method: str, amount: int, payment_id: str, settings: SessionSection,
                    audit_draw: float, now: float, policy: OfflinePolicy = DEFAULT_POLICY) -> Change:
    """Pay for the basket: the intent is committed (status `requested`) before the adapter is called, unless
    the random audit drawn first (`policy`'s audit keys, agent/session/rules/audit_rules.py) stops it."""
    if session.state is SessionState.SCANNING and session.pending:
        return refuse(session, "needs_attendant", "Please wait: a member of staff is coming to help.")
    if session.state is SessionState.SCANNING:
        audit = audit_rules.start(session, amount, audit_draw, policy, settings, now)
        if audit is not None:
            return audit
    moved = advance(session, machine.PayRequested(), settings.max_failed_payments)
    if isinstance(moved, Refusal):
        return refuse(session, moved.reason, moved.message)
    paying = replace(touched(moved[0], now), payment=PaymentState(payment_id, method, amount, "requested"))
    return Change(with_prompt(paying, Prompt("paying", "Paying...")))


def payment_failed(session: Session, reason: str, settings: SessionSection, now: float) -> Change:
    """A decline or a payment that did not happen: back to the basket, and staff after too many."""
    failed = replace(session, failed_payments=session.failed_payments + 1,
                     payment=None if session.payment is None else replace(session.payment, status="failed",
                                                                         reason=reason))
    moved = advance(failed, machine.PaymentFailed(reason), settings.max_failed_payments)
    if isinstance(moved, Refusal):
        return refuse(session, moved.reason, moved.message)
    after, transition = moved
    after = touched(after, now)
    if after.state is SessionState.NEEDS_ATTENDANT:
        after = add_intervention(after, "payment_failures", None, detail=reason)
        after = with_prompt(after, Prompt("attendant_payment_failures", f"{reason} A member of staff is coming "
                                          "to help.", "warning"))
        return Change(after, (session_event(after, "attendant_requested", reason="payment_failures",
                                            intervention_id=after.interventions[-1].intervention_id),))
    return Change(with_prompt(after, Prompt("payment_declined", reason, "error")))


def payment_succeeded(session: Session, sale: dict[str, Any], reference: str | None,
                      settings: SessionSection, now: float) -> Change:
    """The money moved: the sale, the paid session and its event go in one transaction."""
    moved = advance(session, machine.PaymentSucceeded(), settings.max_failed_payments)
    if isinstance(moved, Refusal):           # never drop a charged payment: record the sale whatever the state
        moved = (replace(session, state=SessionState.PAID), machine.Transition(SessionState.PAID))
    paid = replace(touched(moved[0], now), sale_id=sale["sale_id"],
                   payment=None if session.payment is None else replace(session.payment, status="succeeded",
                                                                       reference=reference))
    paid = with_prompt(paid, Prompt("paid", "Thank you. Please take your receipt and your items."))
    event = session_event(paid, "paid", sale_id=sale["sale_id"], total=sale["total"])
    return Change(paid, (event,), sale=sale, charged=True, points_spent=points_spent(session, sale))


def points_spent(basket: Session, sale: dict[str, Any]) -> tuple[str, int, int | None] | None:
    """The row the lane's points ledger gets for a sale that redeemed points: member, points, balance version."""
    member, points = basket.member, int(sale.get("points_redeemed") or 0)
    if member is None or points <= 0:
        return None
    return member.member_id, points, member.points_version


def cancel(session: Session, settings: SessionSection, now: float) -> Change:
    moved = advance(session, machine.CancelRequested(), settings.max_failed_payments)
    if isinstance(moved, Refusal):
        return refuse(session, moved.reason, moved.message)
    return _ended(session, moved[0], "cancelled", now)


def inactivity(session: Session, settings: SessionSection, now: float) -> Change | None:
    """The visit is abandoned when nothing happened for `inactivity_timeout_s`; None when it is not due."""
    if now - session.last_activity < settings.inactivity_timeout_s:
        return None
    moved = advance(session, machine.InactivityTimeout(), settings.max_failed_payments)
    if isinstance(moved, Refusal):
        return None
    return _ended(session, moved[0], "abandoned", now)


def _ended(before: Session, after: Session, how: str, now: float) -> Change:
    """A visit that ends without a sale: its event, the basket as interest, its coupons released."""
    after = with_prompt(touched(after, now), Prompt(how, "Your basket was cleared." if how == "cancelled" else
                                                    "This basket was left and has been cleared."))
    events: list[EventRow] = [session_event(after, how, lines=len(before.active_lines))]
    if before.active_lines:
        events.append(interest_event(after, how, before.active_lines))
    return Change(after, tuple(events), release_tokens=True)


def resolve(session: Session, *, approved: bool, staff_id: str, settings: SessionSection, now: float,
            claim: Claims | None = None, intervention_id: str | None = None, via: str = "lane") -> Change:
    """Staff approve or reject the named open intervention (the oldest when none is named, as a staff code
    scanned at the lane does); a rejected item's line is voided. A named one already resolved is refused
    `already_resolved`, saying by whom and when."""
    if intervention_id is not None and (named := settled(session, intervention_id)) is not None:
        return named
    if (wider := audit_rules.widened(session, approved, intervention_id, now)) is not None:
        return replace(wider, claim=claim)
    event = machine.AttendantApproved(staff_id) if approved else machine.AttendantRejected(staff_id)
    moved = advance(session, event, settings.max_failed_payments)
    if isinstance(moved, Refusal):
        return refuse(session, moved.reason, moved.message)
    after, done = resolve_oldest(moved[0], approved, staff_id, intervention_id=intervention_id, now=now, via=via)
    if done is None:
        return refuse(session, "nothing_to_approve", "Nothing is waiting for staff at this lane.", "info")
    events: list[EventRow] = [session_event(after, "attendant_resolved", intervention_id=done.intervention_id,
                                            reason=done.reason, outcome=done.status, staff_id=staff_id)]
    if not approved and done.line_id is not None and (line := after.line(done.line_id)) is not None:
        after = void_line(after, done.line_id)
        events.append(interest_event(after, "rejected", (line,)))
    if after.pending and after.state is not SessionState.NEEDS_ATTENDANT:
        after = replace(after, state=SessionState.NEEDS_ATTENDANT, state_before_attendant=after.state)
    prompt = Prompt("attendant_done", "Thank you. Please carry on." if approved else
                    "The item was removed by staff. Please carry on.")
    after = with_prompt(touched(after, now), prompt)
    if done.reason == "random_audit":
        after, audited = audit_rules.closed(after, done, staff_id)
        events.extend(audited)
    return Change(after, tuple(events), claim=claim)


LIMITS = "basket_limits"
LIMIT_MESSAGES = {
    "coupon_used_up": "A coupon in this basket has been used as many times as it allows, so it was taken off.",
    "points_balance": "The member has fewer points left than this basket was to use: {points} points will be "
                      "used.",
}


def limits_prompt(basket: Session, reasons: tuple[str, ...]) -> Prompt:
    """What the screen says when a basket was brought within its limits (agent.session.rules.basket.within_limits)."""
    text = " ".join(LIMIT_MESSAGES[r].format(points=basket.points_to_redeem) for r in reasons)
    return Prompt("basket_limits", text, "warning", {"reasons": ",".join(reasons)})


def checked_for_payment(checked: Session, reasons: tuple[str, ...]) -> Change:
    """A basket that went over its limits since they were last checked is corrected, and the payment is not
    started: the shopper sees the new total first (the answer is the first reason, as a refusal)."""
    return Change(with_prompt(checked, limits_prompt(checked, reasons)), refused=reasons[0])


SUSPEND_PREFIX = "SUSP-"


def suspend_code(session_id: str) -> str:
    """The code a suspended basket is taken back by: printed or shown as a Code 128, typed on a keypad."""
    return SUSPEND_PREFIX + session_id.replace("-", "")[-12:].upper()


def is_suspend_code(text: str) -> bool:
    text = text.strip()
    return text.startswith(SUSPEND_PREFIX) and len(text) == len(SUSPEND_PREFIX) + 12 and text[5:].isalnum()


def suspend(session: Session, settings: SessionSection, now: float) -> Change:
    """Put the basket aside under a code the shopper takes to a staffed register (or scans here later)."""
    moved = advance(session, machine.Suspended(), settings.max_failed_payments)
    if isinstance(moved, Refusal):
        return refuse(session, moved.reason, moved.message)
    code = suspend_code(session.session_id)
    after = with_prompt(idle_session(now), Prompt("suspended", f"Your basket is kept under {code}. Show this code "
                                                  "at the service counter, or scan it here to carry on.", "info"))
    after = replace(after, extra={"suspend_code": code})
    event = session_event(session, "suspended", code=code, lines=len(session.active_lines),
                          items=[{"gtin": line.gtin, "quantity": line.quantity} for line in session.active_lines])
    return Change(after, (event,), suspended=(code, session))


def resume(session: Session, code: str, kept: Session | None, settings: SessionSection, now: float,
           new_id: Callable[[], str]) -> Change:
    """Take a suspended basket back: a new visit with the kept lines, member, coupons and promotions."""
    if kept is None:
        return refuse(session, "nothing_to_resume", "No basket is kept under this code. Please ask a member of "
                      "staff.", outcome="rejected", reason="nothing_to_resume")
    moved = advance(session, machine.Resumed(), settings.max_failed_payments)
    if isinstance(moved, Refusal):
        return refuse(session, moved.reason, moved.message, outcome="rejected", reason=moved.reason)
    after = replace(kept, session_id=new_id(), state=SessionState.SCANNING, started_at=now, last_activity=now,
                    payment=None, prompts=(), sale_id=None, extra={"resumed_from": kept.session_id})
    # The controller hands back a kept basket already within its limits, with a LIMITS prompt if it changed.
    note = next((p.message for p in kept.prompts if p.code == LIMITS), None)
    after = with_prompt(after, Prompt("resumed", "Welcome back: your basket is here.") if note is None else
                        Prompt("resumed_changed", f"Welcome back: your basket is here. {note}", "warning"))
    events = (session_event(after, "started"), session_event(after, "resumed", code=code,
                                                             resumed_from=kept.session_id))
    return Change(after, events, {"session_id": after.session_id, "outcome": "accepted"}, resumed=code)


def redeem_points(session: Session, points: int, policy_allows: bool, settings: SessionSection,
                  now: float) -> Change:
    """Pay part of the basket with points: only with a member, within the cached balance, and while the catalog
    is stale only if the offline policy allows it (a stale balance could be spent twice on two lanes)."""
    if session.state is not SessionState.SCANNING:
        return refuse(session, "no_basket", "Points can be used once your items are scanned.")
    if session.member is None:
        return refuse(session, "member_required", "Please show your app's member code to use points.")
    if not policy_allows:
        return refuse(session, "points_offline", "Points cannot be used while the store is offline. Your "
                      "basket is kept.")
    if not 0 <= points <= session.member.points_balance:
        return refuse(session, "points_balance", f"You have {session.member.points_balance} points.")
    after = with_prompt(touched(replace(session, points_to_redeem=points), now),
                        Prompt("points_redeemed", f"{points} points will be used."))
    return Change(after)


def staff_scan(session: Session, meaning: StaffCode, *, settings: SessionSection, now: float) -> Change:
    """A staff code scanned at the lane approves the oldest open intervention."""
    if session.state is not SessionState.NEEDS_ATTENDANT:
        return refuse(session, "nothing_to_approve", "Nothing is waiting for staff at this lane.", "info",
                      outcome="accepted")
    return resolve(session, approved=True, staff_id=meaning.staff_id, settings=settings, now=now,
                   claim=meaning.claims)


def lock(session: Session, staff_id: str, settings: SessionSection, now: float) -> Change:
    moved = advance(session, machine.LaneLocked(staff_id), settings.max_failed_payments)
    if isinstance(moved, Refusal):
        return refuse(session, moved.reason, moved.message)
    locked = with_prompt(moved[0], Prompt("lane_locked", "This lane is closed. Please use another register."))
    return Change(locked, (("sessions", "omo.session/1", {"session_id": session.session_id or "-",
                                                          "event": "lane_locked", "staff_id": staff_id}),))


def unlock(session: Session, staff_id: str, settings: SessionSection, now: float) -> Change:
    moved = advance(session, machine.LaneUnlocked(staff_id), settings.max_failed_payments)
    if isinstance(moved, Refusal):
        return refuse(session, moved.reason, moved.message)
    after = moved[0] if moved[0].state is not SessionState.IDLE else idle_session(now)
    return Change(with_prompt(touched(after, now), None),
                  (("sessions", "omo.session/1", {"session_id": session.session_id or "-", "event": "lane_unlocked",
                                                  "staff_id": staff_id}),))


def payment_progress(session: Session, payment_id: str, status: str, prompt: Prompt | None, now: float,
                     **fields: Any) -> Change:
    """The payment moved on without ending (sent, waiting for the shopper, being checked): the screen follows."""
    if session.payment is None or session.payment.payment_id != payment_id:
        return refuse(session, "stale_payment", "That payment is no longer this visit's.", "info")
    after = replace(session, payment=replace(session.payment, status=status, **fields))
    return Change(after if prompt is None else with_prompt(after, prompt))


def payment_released(session: Session, payment_id: str, reason: str, message: str, settings: SessionSection,
                     now: float) -> Change:
    """No money was kept (the QR expired or was cancelled, an unknown payment was voided): the basket is the
    shopper's again, and this does not count as a declined payment."""
    if session.payment is None or session.payment.payment_id != payment_id:
        return refuse(session, "stale_payment", "That payment is no longer this visit's.", "info")
    released = replace(session, payment=replace(session.payment, status="cancelled", reason=reason))
    moved = advance(released, machine.PaymentCancelled(), settings.max_failed_payments)
    after = released if isinstance(moved, Refusal) else moved[0]
    if isinstance(moved, Refusal):           # never keep a shopper in `paying` with no payment in flight
        after = replace(released, state=SessionState.SCANNING)
    after = with_prompt(touched(after, now), Prompt(f"payment_{reason}", message, "warning"))
    return Change(after, (session_event(after, "payment_released", payment_id=payment_id, reason=reason),))
