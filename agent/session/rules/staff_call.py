"""The shopper calls staff from the screen (pure): an attendant call like the ones the lane raises itself.

Why a visit of its own when nobody is shopping yet: a shopper whose first scan was refused, or who is lost at
the welcome screen, needs staff as much as one with a basket, and an intervention belongs to a visit (staff
resolve it, its events carry the session ID). Staff approve or reject it as any other; the shopper then
carries on with the basket as it was (an empty one for a call from the welcome screen).
"""

from __future__ import annotations

from agent.session.rules import machine
from agent.session.rules.basket import Prompt, Session, add_intervention, with_prompt
from agent.session.rules.machine import Refusal, SessionState
from agent.session.rules.scan_rules import NewId, begin
from agent.session.rules.visit_change import Change, refuse, session_event
from agent.session.settings import SessionSection

REASON = "shopper_call"
MESSAGE = "You asked for help. A member of staff is coming."


def call_staff(session: Session, *, settings: SessionSection, now: float, new_id: NewId,
               clock_synced: bool) -> Change:
    """One open call at a time: a lane already waiting for staff says so instead of calling twice."""
    if session.state is SessionState.NEEDS_ATTENDANT:
        return refuse(session, "needs_attendant", machine.MESSAGES["needs_attendant"], "info")
    started = begin(session, machine.AttendantNeeded(REASON), settings, now, new_id, clock_synced)
    if isinstance(started, Refusal):
        return refuse(session, started.reason, started.message)
    called, events = started
    called = add_intervention(called, REASON, None)
    called = with_prompt(called, Prompt(f"attendant_{REASON}", MESSAGE, "warning"))
    events.append(session_event(called, "attendant_requested", reason=REASON,
                                intervention_id=called.interventions[-1].intervention_id))
    return Change(called, tuple(events))
