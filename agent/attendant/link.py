"""The attendant station's commands at the lane: checked, applied once through the session's own rules, and
answered (docs/architecture.md, "The attendant station, lane side").

Mirrors the cloud's commands (agent/sync/commands.py): one at a time in arrival order, the command ID kept in
lane.db so a replay is refused even after a restart. Unlike them, each command is a JWS the lane verifies
offline (the station's key, then the staff member's own token), and the decision commits in the same
transaction as the command's row. A refusal changes nothing, not even the shopper's screen: a refused change is
never committed.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.attendant import records
from agent.attendant.checks import Refused, lane_refusal, staff_refusal, target_refusal
from agent.attendant.settings import AttendantSection
from agent.attendant.status import rfc3339
from agent.attendant.wire import (
    CommandClaims,
    CommandRefused,
    Reply,
    is_replies_topic,
    parse_command_payload,
    unverified_jti,
    verify_command,
)
from agent.errors import AgentError
from agent.health import ComponentHealth
from agent.interpret.tokens import Claims, TimePolicy, verify
from agent.session.controller import SessionController
from agent.session.refunds import SaleNotFound, reverse_sale
from agent.session.rules import action_rules
from agent.session.rules.attendant_rules import coming
from agent.session.rules.basket import Session, intervention
from agent.session.rules.visit_change import Change

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

logger = logging.getLogger(__name__)
Send = Callable[[str, bytes, bytes], Awaitable[None]]   # topic, payload, MQTT 5 correlation data


@dataclass(frozen=True)
class Verifiers:
    """The keys and the clock policy the lane checks a command with: station keys from `[attendant] keys`,
    staff tokens with `[trust] keys`, and `policy()` the `[trust]` skew as the clock stands now."""

    station_keys: Mapping[str, Ed25519PublicKey]
    trust_keys: Mapping[str, Ed25519PublicKey]
    policy: Callable[[], TimePolicy]
    staff_types: tuple[str, ...] = ("staff",)     # () when `[interpret] accept_staff_tokens = false`


class CommandLink:
    """Give `on_message` to `Handlers.on_attendant`; `run` is the supervised component that works the queue."""

    def __init__(self, *, section: AttendantSection, store_id: str, lane_id: str, prefix: str, verifiers: Verifiers,
                 controller: SessionController, send: Send, status_seq: Callable[[], Awaitable[int | None]],
                 on_outcome: Callable[[str, str], None] = lambda action, outcome: None) -> None:
        self.section, self.store_id, self.lane_id, self.verifiers = section, store_id, lane_id, verifiers
        self.prefix = prefix
        self.controller, self.send, self.status_seq, self.on_outcome = controller, send, status_seq, on_outcome
        self.queue: asyncio.Queue[tuple[bytes, str | None, bytes | None]] = asyncio.Queue(maxsize=100)

    def on_message(self, payload: bytes, response_topic: str | None, correlation: bytes | None) -> None:
        try:
            self.queue.put_nowait((payload, response_topic, correlation))
        except asyncio.QueueFull:
            logger.warning("attendant command dropped: %d waiting already", self.queue.qsize())

    async def run(self, health: ComponentHealth) -> None:
        health.ok()
        while True:
            message = await self.queue.get()
            try:
                await self.answer(*message)
            except (AgentError, OSError) as exc:
                logger.warning("attendant command not answered: %s", exc)

    async def answer(self, payload: bytes, response_topic: str | None, correlation: bytes | None) -> Reply | None:
        """Handle one command and publish its reply; returns the reply (None when there is nowhere to send it)."""
        parsed = parse_command_payload(payload)
        if parsed is None:
            logger.warning("ignoring an attendant command that is not {command, reply_to}")
            return None
        token, reply_to = parsed
        topic = response_topic or reply_to
        if not is_replies_topic(topic, self.prefix, self.store_id):
            logger.warning("ignoring an attendant command whose reply topic %r is not a station's replies topic "
                           "in store %s", topic[:200], self.store_id)
            return None
        reply, action = await self.handle(token)
        self.on_outcome(action, reply.outcome)
        logger.info("attendant command id=%s action=%s outcome=%s reason=%s", reply.command_id, action,
                    reply.outcome, reply.reason)
        cid = correlation if correlation is not None else (reply.command_id or "").encode()
        await self.send(topic, reply.payload(), cid)
        return reply

    async def handle(self, token: str) -> tuple[Reply, str]:
        """The reply to one command JWS, and its action ("unknown" before it could be read)."""
        if not self.section.enabled:
            return self._refused(unverified_jti(token), Refused("disabled", "this lane takes no attendant commands: "
                                                                "no [attendant] keys")), "unknown"
        checked = verify_command(token, self.verifiers.station_keys, self.verifiers.policy(),
                                 self.section.command_max_age_s)
        if isinstance(checked, CommandRefused):
            return self._refused(checked.jti, Refused(checked.reason, checked.message)), "unknown"
        command = checked
        if records.seen(self.controller.lane_db.reader(), command.jti):
            return self._refused(command.jti, Refused("replayed", "this command was answered before")), command.action
        staff = verify(command.staff_token, self.verifiers.trust_keys, self.verifiers.policy(),
                       self.verifiers.staff_types)
        refused = lane_refusal(command, self.store_id, self.lane_id, self.section) or staff_refusal(command, staff)
        if refused is not None:
            await self._record(command, staff.sub if isinstance(staff, Claims) else None, "refused", refused.reason)
            return self._refused(command.jti, refused), command.action
        assert isinstance(staff, Claims)
        if command.action == "void_sale":
            return await self._void_sale(command, staff), command.action
        return await self._apply(command, staff), command.action

    async def _apply(self, command: CommandClaims, staff: Claims) -> Reply:
        ctl = self.controller
        async with ctl.lock:
            session, now = ctl.session, ctl.clock.time()
            refused = target_refusal(command, session, self.section)
            if refused is not None:
                await self._record(command, staff.sub, "refused", refused.reason)
                return self._refused(command.jti, refused)
            change = self._change(command, staff, session, now)
            if not change.ok:
                return await self._not_taken(command, staff, change, session)

            def also(conn: sqlite3.Connection) -> None:
                records.record(conn, command.jti, command.station_id, command.action, staff.sub, "applied", None,
                               command.exp, now)

            await ctl.apply_locked(change, None, also=also)
        done = intervention(change.session, command.intervention_id or "")
        decided = command.action in ("approve", "reject") and done is not None
        return Reply(command.jti, self.store_id, self.lane_id, "applied", None, f"{command.action} applied",
                     staff.sub if decided else None, rfc3339(now) if decided else None,
                     done.status if decided and done is not None else None, await self.status_seq())

    def _change(self, command: CommandClaims, staff: Claims, session: Session, now: float) -> Change:
        """The same rule the lane applies when staff do this at the lane."""
        settings, action = self.controller.settings, command.action
        if action in ("approve", "reject"):
            return action_rules.resolve(session, approved=action == "approve", staff_id=staff.sub, settings=settings,
                                        now=now, intervention_id=command.intervention_id, via="station")
        if action == "coming":
            return coming(session, intervention_id=str(command.intervention_id), staff_id=staff.sub,
                          name=staff.name, now=now)
        if action == "void_line":
            return action_rules.void(session, str(command.line_id), settings, now)
        if action == "cancel_visit":
            return action_rules.cancel(session, settings, now)
        rule = action_rules.lock if action == "lock" else action_rules.unlock
        return rule(session, staff.sub, settings, now)

    async def _not_taken(self, command: CommandClaims, staff: Claims, change: Change, session: Session) -> Reply:
        """A change the rules refused: answered, recorded, never committed (the screen keeps what it says)."""
        message = change.session.prompts[0].message if change.session.prompts else str(change.refused)
        if change.refused == "already_resolved":
            call = intervention(session, command.intervention_id or "")
            assert call is not None
            await self._record(command, staff.sub, "already_resolved", None)
            return Reply(command.jti, self.store_id, self.lane_id, "already_resolved", None, message, call.staff_id,
                         rfc3339(call.resolved_at), call.status, await self.status_seq())
        reason = "no_such_intervention" if change.refused == "no_such_intervention" else "not_applicable"
        await self._record(command, staff.sub, "refused", reason)
        return self._refused(command.jti, Refused(reason, message))

    async def _void_sale(self, command: CommandClaims, staff: Claims) -> Reply:
        """A supervisor reverses a paid sale: the same reversal as the local API's (once per sale, however asked)."""
        try:
            answer = await reverse_sale(self.controller, str(command.sale_id), staff.sub,
                                        command.reason or "attendant station")
        except SaleNotFound:
            await self._record(command, staff.sub, "refused", "not_applicable")
            return self._refused(command.jti, Refused("not_applicable", f"no sale {command.sale_id} at this lane"))
        await self._record(command, staff.sub, "applied", None)
        return Reply(command.jti, self.store_id, self.lane_id, "applied", None, answer.detail or answer.state,
                     staff.sub, None, None, await self.status_seq())

    async def _record(self, command: CommandClaims, staff_id: str | None, outcome: str, reason: str | None) -> None:
        now = self.controller.clock.time()
        await self.controller.lane_db.write(records.record, command.jti, command.station_id, command.action,
                                            staff_id, outcome, reason, command.exp, now)

    def _refused(self, jti: str | None, refused: Refused) -> Reply:
        return Reply(jti, self.store_id, self.lane_id, "refused", refused.reason, refused.message)
