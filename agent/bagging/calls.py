"""A bagging disagreement as a change of the visit (pure): an intervention with its reason and weights.

Why not through the scan's rules: the call comes from the scale, not from a scan, and at any moment of the
visit while the shopper is scanning (or staff are already called). The intervention names no line, so a
staff "reject" voids nothing: what the bag holds is for staff to sort out at the lane. Its `detail` is the
line the call is about (when there is one) and `weights` the expected and measured change of the bag and
the tolerance, in milligrams, for the attendant station and the cloud.
"""

from __future__ import annotations

from agent.bagging.rules import Call
from agent.session.rules import machine
from agent.session.rules.basket import Prompt, Session, add_intervention, with_prompt
from agent.session.rules.machine import Refusal, SessionState
from agent.session.rules.state_step import advance
from agent.session.rules.visit_change import Change, session_event

MESSAGES = {
    "unexpected_item": "Unexpected item in the bagging area. A member of staff is coming.",
    "item_not_bagged": "The item was not placed in the bag. A member of staff is coming.",
    "item_removed": "An item was removed from the bag. A member of staff is coming.",
    "skip_bagging": "A member of staff will check the item you did not bag.",
}
PLACE_ITEM = Prompt("place_item", "Please place the item in the bag.", "info")
CALLABLE = (SessionState.SCANNING, SessionState.NEEDS_ATTENDANT)


def raise_call(session: Session, call: Call, *, max_failed_payments: int) -> Change | None:
    """The visit with the call raised, or None when the visit is not one a bag check may stop (no visit, or
    paying: the scale never blocks a sale by itself)."""
    if session.state not in CALLABLE:
        return None
    moved = advance(session, machine.AttendantNeeded(call.reason), max_failed_payments)
    if isinstance(moved, Refusal):
        return None
    called = add_intervention(moved[0], call.reason, None, call.line_id or "", weights=call.weights())
    called = with_prompt(called, Prompt(f"attendant_{call.reason}", MESSAGES[call.reason], "warning"))
    event = session_event(called, "attendant_requested", reason=call.reason,
                          intervention_id=called.interventions[-1].intervention_id, line_id=call.line_id,
                          weights=call.weights())
    return Change(called, (event,))


def place_prompt(session: Session) -> Change | None:
    """"Place the item in the bag" on the shopper's screen, while the shopper is scanning."""
    if session.state is not SessionState.SCANNING:
        return None
    return Change(with_prompt(session, PLACE_ITEM))
