"""Staff login at the station: the staff badge's token verified offline, and server-side sessions that expire.

A session remembers the token as scanned, because every command carries it (the lane verifies the person, not
only the station). Sessions expire after `idle_s` without a request and after `ttl_s` in any case; the
session ID is 32 random bytes and the only thing the browser keeps (in an HttpOnly cookie).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from agent.interpret import tokens

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ROLES = tokens.STAFF_ROLES


@dataclass(frozen=True, slots=True)
class Staff:
    staff_id: str
    name: str
    role: str             # "staff" | "supervisor"
    token: str            # the staff JWS, sent inside each command
    token_exp: int


@dataclass(frozen=True, slots=True)
class LoginRefused:
    reason: str           # a tokens.Rejection value, or "role"
    message: str


def verify_staff(token: str, keys: Mapping[str, Ed25519PublicKey], now: float) -> Staff | LoginRefused:
    """A staff badge's token, checked as the lane checks it (signature, type, time), with its role."""
    result = tokens.verify(token.strip(), keys, tokens.TimePolicy(now=now), allowed=("staff",))
    if isinstance(result, tokens.TokenRejected):
        return LoginRefused(str(result.reason), _MESSAGES.get(result.reason, "this is not a valid staff code"))
    return Staff(staff_id=result.sub, name=result.name or result.sub, role=result.role or "staff",
                 token=token.strip(), token_exp=result.exp)


_MESSAGES = {
    tokens.Rejection.EXPIRED: "this staff code has expired; ask for a new one",
    tokens.Rejection.UNKNOWN_KEY: "this staff code was not issued for this store",
    tokens.Rejection.BAD_SIGNATURE: "this staff code is not genuine",
    tokens.Rejection.WRONG_TYPE: "this is not a staff code",
    tokens.Rejection.NOT_YET_VALID: "this staff code is not valid yet; check the station's clock",
}


@dataclass(frozen=True, slots=True)
class _Session:
    staff: Staff
    created: float
    last_seen: float


@dataclass(slots=True)
class Sessions:
    """Server-side sessions: `open` on login, `get` on every request (which refreshes the idle timer)."""

    ttl_s: float
    idle_s: float
    _by_id: dict[str, _Session] = field(default_factory=dict)

    def open(self, staff: Staff, now: float) -> str:
        self._sweep(now)
        session_id = secrets.token_urlsafe(32)
        self._by_id[session_id] = _Session(staff, now, now)
        return session_id

    def get(self, session_id: str | None, now: float) -> Staff | None:
        """The staff member of a live session, or None (unknown, idle too long, too old, or the token expired)."""
        session = self._by_id.get(session_id or "")
        if session is None:
            return None
        if self._expired(session, now):
            self._by_id.pop(session_id or "", None)
            return None
        self._by_id[session_id or ""] = replace(session, last_seen=now)
        return session.staff

    def alive(self, session_id: str | None, now: float) -> bool:
        """Whether a session is live, without counting as activity (the live event stream asks this)."""
        session = self._by_id.get(session_id or "")
        return session is not None and not self._expired(session, now)

    def close(self, session_id: str | None) -> None:
        self._by_id.pop(session_id or "", None)

    def _expired(self, session: _Session, now: float) -> bool:
        return (now - session.last_seen > self.idle_s or now - session.created > self.ttl_s
                or now > session.staff.token_exp)

    def _sweep(self, now: float) -> None:
        for key in [k for k, s in self._by_id.items() if self._expired(s, now)]:
            del self._by_id[key]

    def __len__(self) -> int:
        return len(self._by_id)
