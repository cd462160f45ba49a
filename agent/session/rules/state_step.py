"""The state machine applied to a session value: context built from the basket, the transition's state taken.

Every rule module goes through `advance`, so no rule changes `Session.state` by hand and every refusal
comes from the one documented table in `agent/session/rules/machine.py`.
"""

from __future__ import annotations

from dataclasses import replace

from agent.session.rules import machine
from agent.session.rules.basket import Session
from agent.session.rules.machine import MachineContext, Refusal, SessionEvent, SessionState, Transition


def context(session: Session, max_failed_payments: int) -> MachineContext:
    return MachineContext(basket_empty=not session.active_lines, pending_interventions=len(session.pending),
                          state_before_lock=session.state_before_lock,
                          state_before_attendant=session.state_before_attendant,
                          failed_payments=session.failed_payments, max_failed_payments=max_failed_payments)


def advance(session: Session, event: SessionEvent, max_failed_payments: int) -> tuple[Session, Transition] | Refusal:
    """The session in the machine's next state (remembering where to return after staff), or the refusal."""
    result = machine.transition(session.state, event, context=context(session, max_failed_payments))
    if isinstance(result, Refusal):
        return result
    moved = replace(session, state=result.to)
    if result.to is SessionState.NEEDS_ATTENDANT and session.state is not SessionState.NEEDS_ATTENDANT:
        # After failed payments staff help at the basket, not in a payment that has already ended.
        back = SessionState.SCANNING if isinstance(event, machine.PaymentFailed) else session.state
        moved = replace(moved, state_before_attendant=back)
    if result.to is SessionState.LOCKED and session.state is not SessionState.LOCKED:
        moved = replace(moved, state_before_lock=session.state)
    if session.state is SessionState.LOCKED and result.to is not SessionState.LOCKED:
        moved = replace(moved, state_before_lock=None)
    if session.state is SessionState.NEEDS_ATTENDANT and result.to is not SessionState.NEEDS_ATTENDANT:
        moved = replace(moved, state_before_attendant=None)
    return moved, result
