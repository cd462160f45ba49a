"""What one step of the visit changes: the new session value and everything to record with it in one transaction.

The session's rules (`scan_rules`, `actions`) are pure functions returning a `Change`; the controller commits
it (the session row, the events, the token claim, the sale) in one lane.db transaction and only then tells
the screen. A refused step is a `Change` too: the session stays, the prompt says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from agent.interpret.tokens import Claims
from agent.session.rules.basket import Prompt, Session, with_prompt

EventRow = tuple[str, str, dict[str, Any]]          # (topic class, schema, body) for outbox.enqueue


@dataclass(frozen=True, slots=True)
class Change:
    session: Session
    events: tuple[EventRow, ...] = ()
    scan_fields: dict[str, Any] = field(default_factory=dict)   # merged into the scan's own event
    claim: Claims | None = None          # a token to mark used, in the same transaction (a replay undoes all)
    release_tokens: bool = False         # the visit ended without a sale: its coupons may be used again
    sale: dict[str, Any] | None = None   # a completed sale to record (with its receipt)
    charged: bool = False                # the sale's money already moved: record it even on a nearly full disk
    refused: str | None = None           # the reason code, when the step was refused
    suspended: tuple[str, Session] | None = None   # (code, basket) to keep for a staffed register
    resumed: str | None = None           # the suspend code whose basket this step took back
    points_spent: tuple[str, int, int | None] | None = None   # (member, points, balance version) a sale redeemed

    @property
    def ok(self) -> bool:
        return self.refused is None


def refuse(session: Session, code: str, message: str, level: str = "warning", **scan_fields: Any) -> Change:
    """The step is not taken: the session keeps its state and the screen says why and what to do."""
    return Change(with_prompt(session, Prompt(code, message, level)), scan_fields=scan_fields, refused=code)


def session_event(session: Session, event: str, **fields: Any) -> EventRow:
    """An `omo.session/1` event on `{prefix}/{store}/{lane}/sessions`."""
    body: dict[str, Any] = {"session_id": session.session_id, "event": event}
    if session.member is not None:
        body["member_id"] = session.member.member_id
    body.update({k: v for k, v in fields.items() if v is not None})
    return ("sessions", "omo.session/1", body)


def touched(session: Session, now: float) -> Session:
    return replace(session, last_activity=now)
