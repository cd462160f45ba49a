"""What the MQTT publisher offers the rest of the lane, without paho: topics, handlers, packet sizes, messages.

The relay depends on `PublisherLink` (a protocol), not on the paho-backed `Publisher`, so its unit tests drive
it with an in-memory publisher (`simulators/fake_publisher.py`); `agent/sync/mqtt/` stays the only module
that imports paho (an import-linter contract).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

logger = logging.getLogger(__name__)

CONNACK = {0x86: "bad user name or password", 0x87: "not authorized", 0x85: "client identifier not valid",
            0x88: "server unavailable", 0x8A: "banned"}
# What store IT can do about a refused connection (mosquitto answers a wrong password with 0x87).
CONNACK_FIX = {0x86: "check [mqtt] username and the password in password_file",
                0x87: "check [mqtt] username and password_file, or the client certificate, against the broker's users",
                0x85: "give each lane its own [mqtt] client_id"}


@dataclass(frozen=True, slots=True)
class Topics:
    """The lane's topics (DESIGN.md, MQTT topics table)."""

    prefix: str
    store_id: str
    lane_id: str

    def lane(self, leaf: str) -> str:
        return f"{self.prefix}/{self.store_id}/{self.lane_id}/{leaf}"

    @property
    def catalog(self) -> str:
        return f"{self.prefix}/{self.store_id}/catalog"


@dataclass
class Handlers:
    """What the app and the relay want to hear; all called on the event loop thread."""

    on_puback: Callable[[int, int], None] = lambda mid, rc: None
    on_state: Callable[[bool], None] = lambda up: None
    on_ack: Callable[[bytes], None] = lambda payload: None
    on_catalog_delta: Callable[[bytes], Awaitable[None]] | None = None
    on_command: Callable[[bytes], Awaitable[object]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class PublisherLink(Protocol):
    """What the relay needs of a publisher."""

    topics: Topics
    handlers: Handlers
    connected: asyncio.Event

    def send_quota(self) -> int: ...
    def publish_nowait(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int: ...


def publish_packet_size(topic: str, payload: bytes, qos: int = 1) -> int:
    """Bytes of an MQTT 5 PUBLISH as paho sends it: fixed header, topic, mid (QoS > 0), no properties, payload."""
    remaining = 2 + len(topic.encode()) + (2 if qos else 0) + 1 + len(payload)
    length_bytes = 1 if remaining < 128 else 2 if remaining < 16384 else 3 if remaining < 2097152 else 4
    return 1 + length_bytes + remaining


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out; check the network path and the broker"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused; is the broker running on that port?"
    text = str(exc) or type(exc).__name__
    if "CERTIFICATE" in text.upper() or "SSL" in text.upper():
        return f"TLS failed ({text}); check ca_file, cert_file, key_file and server_name"
    return text


async def dispatch(inbox: asyncio.Queue[tuple[str, bytes]], topics: Topics, handlers: Handlers) -> None:
    """Catalog deltas and cloud commands, one at a time and in order, each to its handler; a failing handler
    is logged and the next message goes on."""
    while True:
        topic, payload = await inbox.get()
        handler = handlers.on_catalog_delta if topic == topics.catalog else handlers.on_command
        if handler is None:
            continue
        try:
            await handler(payload)
        except Exception:
            logger.exception("handler for %s failed", topic)
