"""Composition of the lane's attendant side for app.py: the command link, the status publisher and the light,
built from `[attendant]` and started as supervised components (`attendant`, `attendant_status`, `light`).

The MQTT publisher is reached through `publisher()` when a message goes out: it is built with the attendant's
handlers already in it, so the two point at each other only through that call (docs/architecture.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from agent.attendant import status, wire
from agent.attendant.lights import LaneLight
from agent.attendant.link import CommandLink, Verifiers
from agent.attendant.publisher import StatusPublisher
from agent.attendant.settings import AttendantSection
from agent.errors import PublishError
from agent.health import HealthRegistry
from agent.interpret.tokens import TimePolicy, load_keys
from agent.session.controller import SessionController
from agent.supervise import Supervisor

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class Link(Protocol):
    """What the attendant needs of the MQTT publisher (agent.sync.mqtt.Publisher has it)."""

    connected: asyncio.Event

    async def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False,
                      timeout_s: float = 10.0, correlation: bytes | None = None) -> None: ...


@dataclass(frozen=True)
class Identity:
    store_id: str
    lane_id: str
    currency: str
    topic_prefix: str


@dataclass
class Attendant:
    """What the app keeps: `on_screen` gets every message the screens get; `start` runs the components."""

    link: CommandLink
    status: StatusPublisher
    light: LaneLight | None
    last_scan: dict[str, Any] = field(default_factory=dict)     # what the status shows; filled in place

    def on_screen(self, message: Mapping[str, Any]) -> None:
        if message.get("type") == "scan":
            self.last_scan.update(text=message.get("text"), kind=message.get("kind"), at=message.get("occurred_at"))
        self.status.changed()

    def start(self, supervisor: Supervisor) -> None:
        supervisor.start("attendant", self.link.run)
        supervisor.start("attendant_status", self.status.run)
        if self.light is not None:
            supervisor.start("light", self.light.run)


def build_attendant(section: AttendantSection, identity: Identity, *, trust_keys: Mapping[str, Ed25519PublicKey],
                    policy: Callable[[], TimePolicy], controller: SessionController, health: HealthRegistry,
                    staff_tokens: bool,
                    publisher: Callable[[], Link | None],
                    on_outcome: Callable[[str, str], None] = lambda action, outcome: None) -> Attendant:
    """The link, the status publisher and the light, built but not started. Without `staff_tokens` (`[interpret]
    accept_staff_tokens = false`) no command's staff token is taken, as none is at the lane."""
    topic = wire.status_topic(identity.topic_prefix, identity.store_id, identity.lane_id)
    light = LaneLight(section.light) if section.light is not None else None
    last_scan: dict[str, Any] = {}

    def build() -> dict[str, Any]:
        link = publisher()
        return status.content(store_id=identity.store_id, lane_id=identity.lane_id, currency=identity.currency,
                              heartbeat_s=section.heartbeat_s, view=controller.view(), session=controller.session,
                              devices=health.states(), uplink=link is not None and link.connected.is_set(),
                              last_scan=dict(last_scan) or None, section=section, light=light is not None)

    async def publish_status(payload: bytes) -> None:
        await _link(publisher).publish(topic, payload, qos=1, retain=True)

    async def send(reply_topic: str, payload: bytes, correlation: bytes) -> None:
        await _link(publisher).publish(reply_topic, payload, qos=1, correlation=correlation)

    def online() -> bool:
        link = publisher()
        return link is not None and link.connected.is_set()

    status_publisher = StatusPublisher(build=build, publish=publish_status, online=online,
                                       heartbeat_s=section.heartbeat_s,
                                       show_light=light.want if light is not None else lambda signal: None)
    station_keys: Mapping[str, Ed25519PublicKey] = load_keys(section.keys)
    verifiers = Verifiers(station_keys, trust_keys, policy, ("staff",) if staff_tokens else ())
    link = CommandLink(section=section, store_id=identity.store_id, lane_id=identity.lane_id,
                       prefix=identity.topic_prefix,
                       verifiers=verifiers, controller=controller, send=send,
                       status_seq=status_publisher.refresh, on_outcome=on_outcome)
    return Attendant(link, status_publisher, light, last_scan)


def _link(publisher: Callable[[], Link | None]) -> Link:
    link = publisher()
    if link is None:
        raise PublishError("no [mqtt] section: the attendant station cannot be reached", 0)
    return link
