"""The station's MQTT connection to the store broker: paho in its own thread, every message handed to the loop.

Why a thread and not the lane's on-loop publisher: the station sends a few commands a minute and receives a
status per lane change; paho's own network thread (with its reconnect and back-off) is simpler and enough, and
callbacks are moved onto the asyncio loop with `call_soon_threadsafe`, so the board needs no lock.
Each (re)connect subscribes again with a clean start: the broker then re-delivers every lane's retained status,
which is how the page catches up after the broker was down.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.station.settings import BrokerSection
from agent.sync.tls import NamedContext

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    retained: bool
    correlation: bytes | None


class LinkDown(Exception):
    """A command could not be handed to the broker (not connected, or refused by the client)."""


def tls_context(section: BrokerSection) -> ssl.SSLContext:
    """Verify the broker against `ca_file` (hostname checked, or `server_name`), present the station's cert."""
    context = NamedContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cafile=str(section.ca_file))
    if section.cert_file is not None and section.key_file is not None:
        context.load_cert_chain(str(section.cert_file), str(section.key_file))
    context.server_name = section.server_name
    return context


class Link:
    """Connect, subscribe to `topics` on every connect, hand messages and up/down to the loop; publish QoS 1."""

    def __init__(self, section: BrokerSection, topics: tuple[str, ...], on_message: Callable[[Message], None],
                 on_state: Callable[[bool], None], loop: asyncio.AbstractEventLoop) -> None:
        self._section, self._topics = section, topics
        self._on_message, self._on_state, self._loop = on_message, on_state, loop
        self.v5 = section.protocol == "5"
        self._client = self._new_client()
        self.connected = False

    def _new_client(self) -> paho.Client:
        section = self._section
        protocol = MQTTProtocolVersion.MQTTv5 if self.v5 else MQTTProtocolVersion.MQTTv311
        kwargs: dict[str, Any] = {} if self.v5 else {"clean_session": True}
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=section.client_id, protocol=protocol, **kwargs)
        if section.tls:
            client.tls_set_context(tls_context(section))
        client.reconnect_delay_set(1, 30)
        client.on_connect = self._connected
        client.on_disconnect = self._disconnected
        client.on_message = self._message
        return client

    def start(self) -> None:
        kwargs: dict[str, Any] = {"clean_start": True} if self.v5 else {}
        self._client.connect_async(self._section.host, self._section.port, self._section.keepalive_s, **kwargs)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def publish(self, topic: str, payload: bytes, response_topic: str | None = None,
                correlation: bytes | None = None) -> None:
        """QoS 1, not retained; with MQTT 5 the Response Topic and Correlation Data go in the PUBLISH too."""
        if not self.connected:
            raise LinkDown("the station is not connected to the store broker")
        properties = None
        if self.v5 and (response_topic or correlation):
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            if response_topic:
                properties.ResponseTopic = response_topic
            if correlation:
                properties.CorrelationData = correlation
        info = self._client.publish(topic, payload, qos=1, retain=False, properties=properties)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise LinkDown(f"publish to {topic} refused by the client: {paho.error_string(info.rc)}")

    # paho's thread from here on: nothing but a hand-over to the loop.

    def _connected(self, client: paho.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if getattr(reason, "is_failure", False):
            logger.warning("broker refused the station: %s", reason)
            return
        sock = client.socket()
        if isinstance(sock, socket.socket):   # paho leaves Nagle on: a command would wait for a delayed ACK (~40 ms)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.subscribe([(topic, 1) for topic in self._topics])
        logger.info("station connected to the broker host=%s port=%s", self._section.host, self._section.port)
        self._loop.call_soon_threadsafe(self._set_state, True)

    def _disconnected(self, _client: paho.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        logger.warning("station lost the broker: %s", reason)
        self._loop.call_soon_threadsafe(self._set_state, False)

    def _set_state(self, connected: bool) -> None:
        self.connected = connected
        self._on_state(connected)

    def _message(self, _client: paho.Client, _userdata: Any, msg: paho.MQTTMessage) -> None:
        correlation = getattr(msg.properties, "CorrelationData", None) if msg.properties is not None else None
        message = Message(msg.topic, bytes(msg.payload), bool(msg.retain), correlation)
        self._loop.call_soon_threadsafe(self._on_message, message)
