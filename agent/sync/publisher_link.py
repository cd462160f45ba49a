"""What the MQTT publisher offers the rest of the lane, without paho: topics, handlers, packet sizes, messages.

The relay depends on `PublisherLink` (a protocol), not on the paho-backed `Publisher`, so its unit tests drive
it with an in-memory publisher (`simulators/doubles/fake_publisher.py`); `agent/sync/mqtt/` stays the only module
that imports paho (an import-linter contract).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

logger = logging.getLogger(__name__)

# A refused CONNACK, by its MQTT 5 reason code (paho maps MQTT 3.1.1's return codes 1-5 onto 0x84-0x88), with
# what store IT can do about it (mosquitto answers a wrong password with 0x87, "not authorized").
CONNACK = {0x84: "unsupported protocol version", 0x85: "client identifier not valid",
           0x86: "bad user name or password", 0x87: "not authorized", 0x88: "server unavailable", 0x8A: "banned",
           0x8C: "bad authentication method", 0x95: "packet too large", 0x97: "quota exceeded"}
CONNACK_FIX = {0x85: "give each lane its own [mqtt] client_id, within the broker's rules (some 3.1.1 brokers take "
                     "at most 23 letters and digits)",
               0x86: "check [mqtt] username and the password in password_file",
               0x87: "check [mqtt] username and password_file, the client certificate, and the client_id the "
                     "broker expects (mosquitto's clientid_prefixes, a cloud's thing name) against the broker's users "
                     "and ACL",
               0x88: "the broker is up but not taking clients (starting, overloaded or shutting down); the lane "
                     "retries by itself: if it lasts, check the broker's own log",
               0x8A: "the broker has banned this client: ask its operator"}


def connack_refused(rc: int, protocol: str) -> str:
    """Why the broker refused the CONNECT, and what to set, in store IT's words."""
    why = CONNACK.get(rc, "see the MQTT CONNACK reason codes")
    if rc == 0x84:
        fix = ('set [mqtt] protocol = "3.1.1": this broker does not speak MQTT 5' if protocol == "5" else
               'set [mqtt] protocol = "5": this broker does not accept MQTT 3.1.1')
    else:
        fix = CONNACK_FIX.get(rc, "")
    return f"broker refused the connection: reason 0x{rc:02x} ({why})" + (f". Fix: {fix}" if fix else "")


def closed_before_connack(why: str, *, tls: bool, protocol: str) -> str:
    """The broker hung up before answering CONNECT. With TLS that is most often a refused client certificate;
    without it, a broker that does not speak the protocol version asked for (a 3.1.1 broker closes on an
    MQTT 5 CONNECT instead of answering it)."""
    if tls:
        return (f"connection closed before CONNACK ({why}); the broker may have refused the client certificate "
                "(check cert_file and key_file against the broker's CA) or the MQTT version (see [mqtt] protocol)")
    if protocol == "5":
        return (f"connection closed before CONNACK ({why}); the broker may not speak MQTT 5: for an MQTT 3.1.1 "
                'broker (Azure IoT Hub, RabbitMQ before 3.13, amqtt) set [mqtt] protocol = "3.1.1"')
    return f"connection closed before CONNACK ({why}); check that this port is an MQTT listener"


@dataclass(frozen=True, slots=True)
class Topics:
    """The lane's topics (docs/asyncapi.yaml; docs/architecture.md, the external contract)."""

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
    # The attendant station's commands (payload, MQTT 5 Response Topic, Correlation Data): subscribed only when
    # set; and each (re)connect, after the birth message, for what republishes its retained state then.
    on_attendant: Callable[[bytes, str | None, bytes | None], None] | None = None
    on_connected: Callable[[], None] = lambda: None
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
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
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
