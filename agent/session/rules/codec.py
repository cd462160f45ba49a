"""The session value to JSON and back, for its row in lane.db (it must read back exactly as it was written).

orjson serialises the frozen dataclasses directly: `dataclasses.asdict` deep-copies the whole visit first,
and with a long basket that copy was the largest part of each scan's commit (bench/session.py).
"""

from __future__ import annotations

from typing import Any

import orjson

from agent.session.rules.audit import Difference
from agent.session.rules.basket import (
    AuditRun,
    BasketLine,
    CouponEntry,
    Intervention,
    MemberInfo,
    PaymentState,
    Promo,
    Prompt,
    Session,
)
from agent.session.rules.machine import SessionState


def dumps(session: Session) -> str:
    return orjson.dumps(session).decode()


def loads(text: str) -> Session:
    data: dict[str, Any] = orjson.loads(text)
    return Session(
        session_id=data["session_id"],
        state=SessionState(data["state"]),
        started_at=data["started_at"],
        last_activity=data["last_activity"],
        lines=tuple(BasketLine(**line) for line in data["lines"]),
        member=None if data["member"] is None else MemberInfo(**data["member"]),
        coupons=tuple(CouponEntry(**{**c, "gtins": tuple(c["gtins"]), "departments": tuple(c["departments"])})
                      for c in data["coupons"]),
        promotions=tuple(Promo(**{**p, "gtins": tuple(p["gtins"])}) for p in data["promotions"]),
        points_to_redeem=data["points_to_redeem"],
        interventions=tuple(Intervention(**{**i, "audit_lines": tuple(i.get("audit_lines", ()))})
                            for i in data["interventions"]),
        prompts=tuple(Prompt(**p) for p in data["prompts"]),
        payment=None if data["payment"] is None else PaymentState(**data["payment"]),
        failed_payments=data["failed_payments"],
        state_before_attendant=_state(data["state_before_attendant"]),
        state_before_lock=_state(data["state_before_lock"]),
        next_line=data["next_line"],
        next_intervention=data["next_intervention"],
        audited=data["audited"],
        audit=_audit(data.get("audit")),
        clock_synced=data["clock_synced"],
        sale_id=data["sale_id"],
        extra=dict(data["extra"]),
    )


def _state(value: str | None) -> SessionState | None:
    return None if value is None else SessionState(value)


def _audit(data: dict[str, Any] | None) -> AuditRun | None:
    if data is None:
        return None
    return AuditRun(**{**data, "lines": tuple(data["lines"]), "added": tuple(data["added"]),
                       "found": tuple(BasketLine(**line) for line in data["found"]),
                       "differences": tuple(Difference(**d) for d in data["differences"])})
