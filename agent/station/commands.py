"""Staff decisions as signed commands: checked at the station first, sent once, and matched to the lane's reply.

A command gets one ID (its `jti`) and is never re-sent under a new one: when no reply comes within the
timeout, the staff member is told "no answer from lane N" and decides again knowingly (the lane may have
applied it; its next status says). Replies are matched by `command_id` in the payload, which both MQTT 5
(with correlation data) and 3.1.1 carry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agent.attendant import wire
from agent.station.staff import Staff

ACTIONS = wire.ACTIONS
# What each action must name (the lane refuses the rest as malformed; the station says so before sending).
NEEDS: Mapping[str, tuple[str, ...]] = {
    "approve": ("session_id", "intervention_id"), "reject": ("session_id", "intervention_id"),
    "coming": ("session_id", "intervention_id"), "void_line": ("session_id", "line_id"),
    "cancel_visit": ("session_id",), "void_sale": ("sale_id",), "lock": (), "unlock": ()}
FIELDS = ("session_id", "intervention_id", "line_id", "sale_id", "reason")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Refused at the station before anything was sent: `status` is the HTTP status the page gets."""

    status: int
    reason: str
    message: str


def claims(request: Mapping[str, Any], staff: Staff, *, store_id: str, lane_id: str, station_id: str,
           now: float, ttl_s: int) -> wire.CommandClaims | Refusal:
    """The command's claims (contract `attendant_command`), or why the station refuses to send it."""
    action = request.get("action")
    if action not in ACTIONS:
        return Refusal(400, "bad_request", f"action must be one of {', '.join(ACTIONS)}")
    values: dict[str, str | None] = {}
    for name in FIELDS:
        value = request.get(name)
        if value is not None and (not isinstance(value, str) or not 0 < len(value) <= 200):
            return Refusal(400, "bad_request", f"{name} must be a short text or null")
        values[name] = value
    missing = [name for name in NEEDS[action] if not values[name]]
    if missing:
        return Refusal(400, "bad_request", f"{action} needs {', '.join(missing)}")
    if action == "void_sale" and staff.role != "supervisor":
        return Refusal(403, "role", "only a supervisor may void a paid sale")
    return wire.new_command(store_id=store_id, lane_id=lane_id, station_id=station_id, action=str(action),
                            staff_token=staff.token, ttl_s=ttl_s, now=now, **values)


class Pending:
    """Commands sent and waiting for their reply, by command ID."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def send(self, command_id: str, publish: Callable[[], None], timeout_s: float) -> dict[str, Any] | None:
        """Publish once, wait for the reply; None when none came in time (the command is not sent again)."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[command_id] = future
        try:
            publish()
            async with asyncio.timeout(timeout_s):
                return await future
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(command_id, None)

    def reply(self, payload: bytes) -> dict[str, Any] | None:
        """Hand a reply to its waiting command; the decoded reply, or None if it is not one (or nobody waits)."""
        reply = wire.parse_reply(payload)
        if reply is None:
            return None
        future = self._waiting.get(str(reply.command_id))
        if future is None or future.done():
            return None
        future.set_result(reply.to_json())
        return reply.to_json()

    def __len__(self) -> int:
        return len(self._waiting)
