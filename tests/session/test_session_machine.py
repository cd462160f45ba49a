"""The session's state machine: every (state, event) pair is a documented transition or a refusal with a reason."""

from __future__ import annotations

import itertools

import pytest

from agent.session.rules import machine
from agent.session.rules.machine import (
    EVENT_KINDS,
    REASONS,
    MachineContext,
    Refusal,
    SessionState,
    Transition,
    transition,
)

S = SessionState
EVENTS = {kind.__name__: kind() for kind in EVENT_KINDS}
CONTEXT = MachineContext(basket_empty=False, pending_interventions=1, state_before_attendant=S.SCANNING,
                         state_before_lock=S.SCANNING, failed_payments=1, max_failed_payments=3)

# The documented table (docs/session.md, agent/session/rules/machine.py) for a basket with one line, one open
# intervention, one failed payment out of three: "to:<state>", "new:<state>" (a new visit) or "no:<reason>".
SHOPPER_STEPS = ("ItemScanned", "MemberIdentified", "CouponPresented")
PAYMENT_RESULTS = ("PaymentSucceeded", "PaymentFailed", "PaymentCancelled")


def between_visits(state: SessionState) -> dict[str, str]:
    row = {e: "new:scanning" for e in (*SHOPPER_STEPS, "Resumed")}
    row.update({e: "no:no_payment_in_progress" for e in PAYMENT_RESULTS})
    row.update({"PayRequested": "no:already_paid" if state is S.PAID else "no:basket_empty",
                "AttendantApproved": "no:nothing_to_approve", "AttendantRejected": "no:nothing_to_approve",
                "LineVoided": "no:no_session", "AttendantNeeded": "new:needs_attendant",
                "CancelRequested": "no:no_session", "InactivityTimeout": "no:no_session", "Suspended": "no:no_session",
                "LaneLocked": "to:locked", "LaneUnlocked": "no:not_locked"})
    return row


TABLE: dict[SessionState, dict[str, str]] = {
    **{state: between_visits(state) for state in (S.IDLE, S.PAID, S.CANCELLED, S.ABANDONED)},
    S.SCANNING: {**{e: "to:scanning" for e in (*SHOPPER_STEPS, "LineVoided")},
                 **{e: "no:no_payment_in_progress" for e in PAYMENT_RESULTS},
                 "AttendantNeeded": "to:needs_attendant", "AttendantApproved": "no:nothing_to_approve",
                 "AttendantRejected": "no:nothing_to_approve", "PayRequested": "to:paying",
                 "CancelRequested": "to:cancelled", "InactivityTimeout": "to:abandoned", "Suspended": "to:idle",
                 "Resumed": "no:already_in_session", "LaneLocked": "to:locked", "LaneUnlocked": "no:not_locked"},
    S.NEEDS_ATTENDANT: {**{e: "no:needs_attendant" for e in (*SHOPPER_STEPS, "LineVoided", "PayRequested",
                                                              "Suspended", "Resumed")},
                        **{e: "no:no_payment_in_progress" for e in PAYMENT_RESULTS},
                        "AttendantNeeded": "to:needs_attendant", "AttendantApproved": "to:scanning",
                        "AttendantRejected": "to:scanning", "CancelRequested": "to:cancelled",
                        "InactivityTimeout": "no:waiting_for_attendant", "LaneLocked": "to:locked",
                        "LaneUnlocked": "no:not_locked"},
    S.PAYING: {**{e: "no:payment_in_progress" for e in (*SHOPPER_STEPS, "LineVoided", "PayRequested",
                                                         "CancelRequested", "InactivityTimeout", "Suspended",
                                                         "Resumed", "LaneLocked")},
               "PaymentSucceeded": "to:paid", "PaymentFailed": "to:scanning", "PaymentCancelled": "to:scanning",
               "AttendantNeeded": "to:needs_attendant", "AttendantApproved": "no:nothing_to_approve",
               "AttendantRejected": "no:nothing_to_approve", "LaneUnlocked": "no:not_locked"},
    S.LOCKED: {**{e: "no:lane_locked" for e in EVENTS}, "LaneUnlocked": "to:scanning"},
}


def outcome(result: Transition | Refusal) -> str:
    if isinstance(result, Refusal):
        return f"no:{result.reason}"
    return f"{'new' if result.new_session else 'to'}:{result.to.value}"


@pytest.mark.parametrize(("state", "event"), list(itertools.product(SessionState, EVENTS)),
                         ids=lambda v: str(getattr(v, "value", v)))
def test_every_state_and_event_pair_is_documented(state: SessionState, event: str) -> None:
    result = transition(state, EVENTS[event], context=CONTEXT)
    assert outcome(result) == TABLE[state][event]
    if isinstance(result, Refusal):
        assert result.reason in REASONS and result.message, "a refusal says why and what to do"


def test_an_empty_basket_cannot_be_paid() -> None:
    empty = MachineContext(basket_empty=True)
    assert outcome(transition(S.SCANNING, machine.PayRequested(), context=empty)) == "no:basket_empty"


def test_failures_up_to_the_maximum_call_an_attendant() -> None:
    third = MachineContext(failed_payments=3, max_failed_payments=3)
    assert outcome(transition(S.PAYING, machine.PaymentFailed("declined"), context=third)) == "to:needs_attendant"


def test_two_open_interventions_need_two_resolutions() -> None:
    two = MachineContext(pending_interventions=2, state_before_attendant=S.SCANNING)
    assert outcome(transition(S.NEEDS_ATTENDANT, machine.AttendantApproved("S-1"), context=two)) \
        == "to:needs_attendant"


def test_an_attendant_called_during_payment_cannot_cancel_it_and_payment_results_still_arrive() -> None:
    during = MachineContext(pending_interventions=1, state_before_attendant=S.PAYING)
    assert outcome(transition(S.NEEDS_ATTENDANT, machine.CancelRequested(), context=during)) \
        == "no:payment_in_progress"
    assert outcome(transition(S.NEEDS_ATTENDANT, machine.PaymentSucceeded(), context=during)) == "to:paid"
    assert outcome(transition(S.NEEDS_ATTENDANT, machine.LaneLocked("S-1"), context=during)) \
        == "no:payment_in_progress", "a locked lane would refuse the payment's result"


def test_unlock_restores_the_state_before_the_lock() -> None:
    locked_while_idle = MachineContext(state_before_lock=None)
    assert outcome(transition(S.LOCKED, machine.LaneUnlocked("S-1"), context=locked_while_idle)) == "to:idle"
