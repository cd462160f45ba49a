"""The station's shell: the MQTT link feeding the board, commands out and replies in, live updates to the pages.

Everything that decides is elsewhere (board.py, commands.py, staff.py); this class only moves messages between
the broker, the board and the pages, on the asyncio loop (the link hands paho's callbacks over to it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from agent.attendant import wire
from agent.station import commands
from agent.station.board import Board, iso
from agent.station.events import Hub
from agent.station.link import Link, LinkDown, Message
from agent.station.metrics import StationMetrics
from agent.station.settings import StationSettings
from agent.station.staff import Sessions, Staff

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

logger = logging.getLogger(__name__)


class Station:
    """One store's lanes as the staff see them, and the way their decisions reach the lanes."""

    def __init__(self, settings: StationSettings, staff_keys: Mapping[str, Ed25519PublicKey],
                 signing_key: Ed25519PrivateKey, kid: str, loop: asyncio.AbstractEventLoop,
                 clock: Callable[[], float] = time.time) -> None:
        section, broker = settings.station, settings.broker
        self.station_id, self.store_id, self.prefix = section.station_id, section.store_id, broker.topic_prefix
        self.staff_keys, self.clock = staff_keys, clock
        self._signing_key, self._kid = signing_key, kid
        self.reply_timeout_s, self.command_ttl_s = section.reply_timeout_s, section.command_ttl_s
        self.board = Board(section.store_id)
        self.hub = Hub()
        self.pending = commands.Pending()
        self.sessions = Sessions(ttl_s=section.session_ttl_s, idle_s=section.session_idle_s)
        self.metrics = StationMetrics(lambda: self.board.counts(self.clock()))
        self.names: dict[str, str] = {}          # staff ID -> name, of everyone who logged in here
        self.replies_topic = wire.replies_topic(self.prefix, self.store_id, self.station_id)
        topics = (wire.status_filter(self.prefix, self.store_id), f"{self.prefix}/{self.store_id}/+/status",
                  self.replies_topic)
        self.link = Link(broker, topics, self._message, self._state, loop)
        self._stale: dict[str, bool] = {}

    def view(self) -> dict[str, Any]:
        return self.board.view(self.clock(), self.station_id)

    def _message(self, message: Message) -> None:
        parts = message.topic.split("/")
        base = len(self.prefix.split("/"))
        if parts[base:base + 1] != [self.store_id]:
            return                  # only this store's topics are subscribed; anything else is not ours
        if message.topic == self.replies_topic:
            self.pending.reply(message.payload)
        elif parts[base + 2:] == ["attendant", "status"]:
            self._status(parts[base + 1], message)
        elif parts[base + 2:] == ["status"] and message.payload in (b"online", b"offline"):
            self.board.presence(parts[base + 1], message.payload == b"online")
            self._push_lane(parts[base + 1])

    def _status(self, lane_id: str, message: Message) -> None:
        try:
            document = json.loads(message.payload)
        except ValueError:
            logger.warning("unreadable lane status lane=%s", lane_id)
            return
        if not isinstance(document, dict) or document.get("lane_id") != lane_id:
            return
        changes = self.board.status(lane_id, document, self.clock(), message.retained)
        self.metrics.calls(changes)
        self._push_lane(lane_id)

    def _push_lane(self, lane_id: str) -> None:
        if lane_id in self.board.lane_ids():
            tile = self.board.tile(lane_id, self.clock())
            self._stale[lane_id] = tile["stale"]
            self.hub.publish("lane", tile)

    def _state(self, connected: bool) -> None:
        self.board.broker(connected, self.clock())
        view = self.view()
        self.hub.publish("broker", {"broker": view["broker"], "broker_lost_at": view["broker_lost_at"]})

    def tick(self) -> None:
        """Once a second: a lane that went quiet (or spoke again) is redrawn, so stale is never shown as fine."""
        now = self.clock()
        for lane_id in self.board.lane_ids():
            if self.board.is_stale(lane_id, now) != self._stale.get(lane_id):
                self._push_lane(lane_id)

    async def command(self, staff: Staff, lane_id: str, request: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """Send one decision and wait (bounded) for the lane's reply: (HTTP status, body for the page)."""
        if lane_id not in self.board.lane_ids():
            return 404, {"detail": f"no lane {lane_id!r} in store {self.store_id}", "reason": "no_such_lane"}
        claims = commands.claims(request, staff, store_id=self.store_id, lane_id=lane_id,
                                 station_id=self.station_id, now=self.clock(), ttl_s=self.command_ttl_s)
        if isinstance(claims, commands.Refusal):
            return claims.status, {"detail": claims.message, "reason": claims.reason}
        token = wire.sign_command(claims, self._signing_key, self._kid)
        topic = wire.commands_topic(self.prefix, self.store_id, lane_id)
        payload = wire.command_payload(token, self.replies_topic)

        def publish() -> None:
            self.link.publish(topic, payload, self.replies_topic, claims.jti.encode())

        try:
            reply = await self.pending.send(claims.jti, publish, self.reply_timeout_s)
        except LinkDown as exc:
            return self._answer(staff, claims, 503, {
                "outcome": "not_sent", "command_id": claims.jti, "reason": "broker_lost",
                "message": f"{exc}; decide at the lane (scan the staff code there)"})
        if reply is None:
            return self._answer(staff, claims, 504, {
                "outcome": "no_answer", "command_id": claims.jti, "reason": "no_answer",
                "message": f"no answer from {lane_id} within {self.reply_timeout_s:g} s; look at the lane before "
                           "deciding again (it may have applied it)"})
        resolved_by = reply.get("resolved_by")
        body = {**reply, "resolved_by_name": self.names.get(resolved_by) if isinstance(resolved_by, str) else None}
        return self._answer(staff, claims, 200, body)

    def _answer(self, staff: Staff, claims: wire.CommandClaims, status: int,
                body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        outcome = str(body.get("outcome"))
        self.metrics.commands.labels(claims.action, outcome).inc()
        logger.info("attendant command staff_id=%s staff=%s lane=%s action=%s command_id=%s outcome=%s reason=%s",
                    staff.staff_id, staff.name, claims.lane_id, claims.action, claims.jti, outcome, body.get("reason"))
        self.hub.publish("action", {"lane_id": claims.lane_id, "action": claims.action, "staff_id": staff.staff_id,
                                    "staff_name": staff.name, "outcome": outcome, "at": iso(self.clock()),
                                    "intervention_id": claims.intervention_id})
        return status, {**body, "staff_id": staff.staff_id, "staff_name": staff.name, "action": claims.action}
