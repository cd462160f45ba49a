"""The attendant's answers that name one intervention (pure): "already resolved", "help is coming", and the
`omo.attendant/1` events (call raised, acknowledged, resolved) that every committed change carries.

Why by ID: two attendants (or one at the station and one at the lane) may answer the same call; the first
decision wins and the second is told who decided and when, instead of resolving the next call by mistake.
Why the events come from comparing the visit before and after a change: every way an intervention is raised
(a scan, the shopper's call, a random audit, failed payments) or resolved (a staff code at the lane, the
local API, the station) then yields them alike, with no path forgetting one.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from agent.session.rules.basket import Intervention, Prompt, Session, intervention, with_intervention, with_prompt
from agent.session.rules.visit_change import Change, EventRow, refuse

HELP_COMING = "help_coming"
HELP_COMING_MESSAGE = "Help is on the way."


def _at(seconds: float | None) -> str:
    if seconds is None:
        return "an unknown time"
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def settled(session: Session, intervention_id: str) -> Change | None:
    """The refusal when the named intervention is not open: unknown here, or already resolved (by whom, when);
    None when it is waiting for a decision."""
    found = intervention(session, intervention_id)
    if found is None:
        return refuse(session, "no_such_intervention", f"No intervention {intervention_id} in this visit.", "info")
    if found.status == "pending":
        return None
    return refuse(session, "already_resolved", f"Already {found.status} by {found.staff_id} at "
                  f"{_at(found.resolved_at)}.", "info")


def coming(session: Session, *, intervention_id: str, staff_id: str, name: str | None, now: float) -> Change:
    """A member of staff says they are on their way: the shopper's screen says so, and the call is
    acknowledged (its wait ends here for the metrics; the first acknowledgement is the one kept)."""
    refused = settled(session, intervention_id)
    if refused is not None:
        return refused
    found = intervention(session, intervention_id)
    assert found is not None
    acknowledged = found if found.acknowledged_by is not None else replace(
        found, acknowledged_by=staff_id, acknowledged_name=name, acknowledged_at=now)
    after = with_intervention(session, acknowledged)
    prompt = Prompt(HELP_COMING, HELP_COMING_MESSAGE, "info", {"name": name} if name else {})
    return Change(with_prompt(after, prompt))


def help_coming(session: Session) -> dict[str, Any] | None:
    """Who said they were coming to the oldest open call that has been acknowledged, for the lane status."""
    for open_call in session.pending:
        if open_call.acknowledged_by is not None:
            return {"staff_id": open_call.acknowledged_by, "name": open_call.acknowledged_name,
                    "intervention_id": open_call.intervention_id, "at": _at(open_call.acknowledged_at)}
    return None


def attendant_events(before: Session, after: Session) -> tuple[EventRow, ...]:
    """`omo.attendant/1` rows for what `after` changed in the visit's interventions."""
    old = {i.intervention_id: i for i in before.interventions} if before.session_id == after.session_id else {}
    rows: list[EventRow] = []
    for now in after.interventions:
        was = old.get(now.intervention_id)
        if was is None:
            if now.status == "pending":
                weights = {"weights": dict(now.weights)} if now.weights else {}
                rows.append(_event(after, now, "call_raised", None, None, None, **weights))
            continue
        if was.acknowledged_by is None and now.acknowledged_by is not None:
            rows.append(_event(after, now, "call_acknowledged", now.acknowledged_by, "station", now.acknowledged_at,
                               first_response=True))
        if was.status == "pending" and now.status != "pending":
            rows.append(_event(after, now, "call_resolved", now.staff_id, now.via or "lane", now.resolved_at,
                               decision=now.status, first_response=now.acknowledged_by is None))
    return tuple(rows)


def _event(session: Session, call: Intervention, event: str, staff_id: str | None, via: str | None,
           at: float | None, **extra: Any) -> EventRow:
    waited = None if at is None or call.raised_at is None else max(0, round((at - call.raised_at) * 1000))
    body: dict[str, Any] = {"session_id": session.session_id, "event": event,
                            "intervention_id": call.intervention_id, "reason": call.reason, "staff_id": staff_id,
                            "via": via, **({} if event == "call_raised" else {"waited_ms": waited}), **extra}
    return ("sessions", "omo.attendant/1", body)
