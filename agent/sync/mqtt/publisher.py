"""MQTT 5 connection over paho-mqtt 2.x on the asyncio loop (with agent/sync/mqtt/client.py, the only paho user).

Why on the loop and not in paho's thread: every callback (PUBACK, acks, commands) then runs on the
loop thread, so the relay needs no locks, and paho batches the packets of one loop turn into one write.
The blocking parts (TCP connect, TLS handshake) run in an executor. Each connection gets a fresh paho
client (clean start): the outbox, not paho's in-memory queue, is what gets re-sent after a drop.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

from agent.clock import SYSTEM_CLOCK, Clock
from agent.errors import PacketTooLarge, PublishError
from agent.health import ComponentHealth
from agent.sync import tls
from agent.sync.loop_io import LoopIO
from agent.sync.mqtt.client import PahoClient, reply_properties, response_of
from agent.sync.publisher_link import (
    Handlers,
    Topics,
    closed_before_connack,
    connack_refused,
    describe_error,
    dispatch,
    publish_packet_size,
)
from agent.sync.settings import MqttSection

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
MQTT5_RECEIVE_MAXIMUM = 65535   # what a CONNACK without the property means (MQTT 5 section 3.2.2.3.3)
class Publisher:
    """One lane's MQTT session: connect with back-off, birth and will, subscriptions, QoS 1 publishes."""

    def __init__(self, section: MqttSection, store_id: str, lane_id: str, handlers: Handlers | None = None,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.section, self.clock = section, clock
        self.topics = Topics(section.topic_prefix, store_id, lane_id)
        self.handlers = handlers or Handlers()
        self.connected = asyncio.Event()
        self.cert_expiry = tls.cert_expiry(section.cert_file)
        self._client: paho.Client | None = None
        self._waiters: dict[int, asyncio.Future[int]] = {}
        self._inbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(maxsize=1000)
        self._link: LoopIO | None = None       # the connected socket on the loop
        self._tls: tls.NamedContext | None = None
        self.state = "disconnected"
        # MQTT 5 Receive Maximum from the broker's CONNACK: QoS 1 publishes it allows unacknowledged at once.
        # paho does not enforce it; a broker that does (0x93) would drop the connection of a lane that exceeds it.
        self.receive_maximum = MQTT5_RECEIVE_MAXIMUM
        # MQTT 5 Maximum Packet Size from the CONNACK (None: no limit but the protocol's). paho does not check it;
        # a broker closes the connection of a client that sends a bigger packet, and the window would go again.
        self.maximum_packet_size: int | None = None

    def probe(self) -> dict[str, Any]:
        """Connection details for health."""
        return {"connection": self.state, "client_cert_days_left": tls.days_left(self.cert_expiry),
                "broker_receive_maximum": self.receive_maximum, "broker_maximum_packet_size": self.maximum_packet_size}

    def send_quota(self) -> int:
        """QoS 1 publishes the broker allows now besides this publisher's own (the birth message)."""
        return self.receive_maximum - len(self._waiters)

    def publish_nowait(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False,
                       correlation: bytes | None = None) -> int:
        """Hand one message to paho and return its mid; PUBACK comes to `handlers.on_puback(mid, rc)`.
        `correlation`: MQTT 5 Correlation Data of an answer (dropped under 3.1.1, where the payload says it)."""
        client = self._client
        if client is None or not self.connected.is_set():
            raise PublishError("not connected to the broker", MQTTErrorCode.MQTT_ERR_NO_CONN.value)
        limit = self.maximum_packet_size
        if limit is not None and (size := publish_packet_size(topic, payload, qos)) > limit:
            raise PacketTooLarge(f"a {size}-byte publish to {topic} is over the broker's maximum packet size of "
                                 f"{limit} bytes", 0x95)
        properties = reply_properties(correlation) if self.section.protocol == "5" else None
        info = client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise PublishError(f"publish to {topic} refused by the client: {paho.error_string(info.rc)}", info.rc)
        return info.mid

    async def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False,
                      timeout_s: float = 10.0, correlation: bytes | None = None) -> None:
        """Publish and wait for the PUBACK; raise PublishError on an error reason code or a timeout."""
        mid = self.publish_nowait(topic, payload, qos, retain, correlation)
        if qos == 0:
            return
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiters[mid] = future
        try:
            async with asyncio.timeout(timeout_s):   # not wait_for: see _session
                rc = await future
        except TimeoutError:
            raise PublishError(f"no PUBACK for {topic} within {timeout_s} s", 0) from None
        finally:
            self._waiters.pop(mid, None)
        if rc >= 0x80:
            raise PublishError(f"broker refused publish to {topic}: reason 0x{rc:02x}", rc)

    async def run(self, health: ComponentHealth) -> None:
        """Supervised component (its probe: `probe`): stay connected, reconnecting with back-off and jitter."""
        attempt = 0
        while True:
            connected_at = self.clock.monotonic()
            try:
                await self._session(health)
            except (OSError, PublishError, TimeoutError, ValueError) as exc:
                self.state = "disconnected"
                health.down(f"MQTT {self.section.host}:{self.section.port}: {describe_error(exc)}")
            if self.clock.monotonic() - connected_at > 60:
                attempt = 0
            attempt += 1
            # 1-2 s after the first failure, doubling to at most 60 s, with jitter: never two CONNECTs of one
            # client ID within a second (AWS IoT Core throttles more), and a fleet back from a broker restart
            # spreads its reconnects instead of arriving in one instant (docs/scaling.md).
            await asyncio.sleep(min(60.0, 0.5 * 2 ** min(attempt, 8) * random.uniform(1.0, 2.0)))

    async def _session(self, health: ComponentHealth) -> None:
        loop = asyncio.get_running_loop()
        client = self._new_client(loop)
        self.state = "connecting"
        connack: asyncio.Future[int] = loop.create_future()
        client.user_data_set(connack)
        # asyncio.timeout, never wait_for, around awaits of this long-lived task: on Python 3.11 wait_for
        # swallows a cancel that arrives as the awaited thing completes, and the publisher would not stop.
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            await loop.run_in_executor(None, self._connect_blocking, client)
        sock = client.socket()
        if sock is None:   # closed while connecting: TLS 1.3 reports a refused client certificate only now
            raise PublishError("connection closed while connecting; with TLS, check the client certificate", 0)
        self._client = client
        link = self._link = LoopIO(loop, client, sock, self.clock)
        try:
            # paho leaves Nagle on: a 300-byte publish would wait for the broker's delayed ACK (~40 ms).
            if isinstance(sock, socket.socket):   # ssl.SSLSocket is one too
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link.attach()
            waits: list[asyncio.Future[Any]] = [connack, link.lost]
            await asyncio.wait(waits, timeout=CONNECT_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
            if not connack.done():
                why = link.lost.result() if link.lost.done() else "no CONNACK in time"
                raise PublishError(closed_before_connack(why, tls=self.section.tls,
                                                         protocol=self.section.protocol), 0)
            rc = connack.result()
            if rc != 0:
                raise PublishError(connack_refused(rc, self.section.protocol), rc)
            await self._on_connected(health)
            await self._serve(health, link)
        finally:
            self._detach(link)

    def _check_certificate(self, health: ComponentHealth) -> None:
        """Degraded weeks before the client certificate expires: after that the broker refuses the lane."""
        warning = tls.expiry_warning(self.section.cert_file, self.cert_expiry)
        if warning is not None:
            health.degraded(warning)

    def _new_client(self, loop: asyncio.AbstractEventLoop) -> paho.Client:
        v5 = self.section.protocol == "5"
        client = PahoClient(CallbackAPIVersion.VERSION2, client_id=self.section.client_id,
                            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
                            clean_session=None if v5 else True, reconnect_on_failure=False)
        client.max_inflight_messages = 0   # the relay keeps its own window; 0 skips paho's O(n) rescan per ack
        client.connect_timeout = 5.0
        client.will_set(self.topics.lane("status"), b"offline", qos=1, retain=True)
        if self.section.tls:
            self._tls = tls.ssl_context(self.section)
            self.cert_expiry = tls.cert_expiry(self.section.cert_file)   # a renewed file shows at once
            client.tls_set_context(self._tls)
        if self.section.username:
            client.username_pw_set(self.section.username, tls.password(self.section))
        client.on_connect = self._on_connack
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        return client

    def _on_connack(self, client: paho.Client, connack: asyncio.Future[int], flags: Any, rc: Any, props: Any) -> None:
        # MQTT 5 announces the broker's limits in the CONNACK; with 3.1.1 they come from config.
        v5 = self.section.protocol == "5"
        previous, self.receive_maximum = self.receive_maximum, int(getattr(props, "ReceiveMaximum",
                                                                             MQTT5_RECEIVE_MAXIMUM)) if v5 else \
            self.section.inflight_window
        limit = getattr(props, "MaximumPacketSize", None) if v5 else self.section.max_packet_bytes
        self.maximum_packet_size = int(limit) if limit is not None else None
        # Once per change, not on every reconnect of a flapping link.
        if self.receive_maximum < self.section.inflight_window and self.receive_maximum != previous:
            logger.warning("the broker allows %d QoS 1 publishes in flight, fewer than [mqtt] inflight_window = %d: "
                           "the lane keeps to the broker's limit; raise it on the broker (mosquitto: "
                           "max_inflight_messages) for faster drains", self.receive_maximum,
                           self.section.inflight_window)
        if not connack.done():
            connack.set_result(rc.value)

    def _connect_blocking(self, client: paho.Client) -> None:
        """TCP connect and TLS handshake: blocking, so it runs in an executor thread."""
        try:
            if self.section.protocol == "5":
                client.connect(self.section.host, self.section.port, keepalive=self.section.keepalive_s,
                               clean_start=True)
            else:       # 3.1.1: a clean session, set when the client was made (clean_start is MQTT 5's)
                client.connect(self.section.host, self.section.port, keepalive=self.section.keepalive_s)
        except BaseException:
            if self._tls is not None and self._tls.last_socket is not None:
                self._tls.last_socket.close()
            raise

    def _detach(self, link: LoopIO) -> None:
        was_up = self.connected.is_set()
        self.connected.clear()
        self._client = None
        self._link = None
        link.close()
        for future in self._waiters.values():
            if not future.done():
                future.set_exception(PublishError("connection lost before PUBACK", 0x80))
        if was_up:
            self.handlers.on_state(False)

    async def _on_connected(self, health: ComponentHealth) -> None:
        client = self._client
        assert client is not None
        attendant = [(self.topics.lane("attendant/commands"), 1)] if self.handlers.on_attendant else []
        client.subscribe([(self.topics.lane("acks"), 1), (self.topics.catalog, 1), (self.topics.lane("commands"), 1),
                          *attendant])
        # The relay forgets the old connection's in-flight rows before `connected` lets it publish: told after
        # the birth message (as before), it dropped the rows it had just published and sent them twice.
        self.handlers.on_state(True)
        self.connected.set()
        self.state = "connected"
        health.ok()
        self._check_certificate(health)
        try:
            await self.publish(self.topics.lane("status"), b"online", qos=1, retain=True)
        except PublishError as exc:   # an ACL that refuses the status topic must not stop the sales
            health.degraded(f"birth message refused: {exc}; check the broker ACL for {self.topics.lane('status')}")
        health.count("connects")
        self.handlers.on_connected()
        logger.info("mqtt connected host=%s port=%s client_id=%s", self.section.host, self.section.port,
                    self.section.client_id)

    async def _serve(self, health: ComponentHealth, link: LoopIO) -> None:
        """Tick paho's keepalive, dispatch catalog and commands in order, notice a dead link and an ageing
        certificate (a lane may stay connected for weeks)."""
        consumer = asyncio.create_task(dispatch(self._inbox, self.topics, self.handlers))
        next_certificate_check = self.clock.monotonic() + 3600
        try:
            while not link.lost.done():
                await asyncio.wait([link.lost], timeout=1.0)
                if self._client is not None:
                    self._client.loop_misc()
                self._check_stalled(link)
                if self.clock.monotonic() >= next_certificate_check:
                    next_certificate_check = self.clock.monotonic() + 3600
                    self._check_certificate(health)
            raise PublishError(f"connection lost ({link.lost.result()})", 0)
        finally:
            consumer.cancel()

    def _check_stalled(self, link: LoopIO) -> None:
        """Half-open link: publishes wait and nothing at all comes back for a keepalive period."""
        silent = link.silent_s()
        if self._client is not None and self._client._out_messages and silent > self.section.keepalive_s:
            logger.warning("mqtt link silent for %.1f s with publishes waiting; reconnecting", silent)
            link.mark_lost("no PUBACK or data within keepalive")

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if self._link is not None:
            self._link.mark_lost(str(rc))

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int, rc: Any, props: Any) -> None:
        code = int(rc.value)
        waiter = self._waiters.get(mid)
        if waiter is not None:
            if not waiter.done():
                waiter.set_result(code)
            return
        self.handlers.on_puback(mid, code)

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        topic = message.topic
        if topic == self.topics.lane("acks"):
            self.handlers.on_ack(bytes(message.payload))
            return
        if self.handlers.on_attendant is not None and topic == self.topics.lane("attendant/commands"):
            self.handlers.on_attendant(bytes(message.payload), *response_of(message))
            return
        try:
            self._inbox.put_nowait((topic, bytes(message.payload)))
        except asyncio.QueueFull:
            logger.warning("cloud-to-edge message dropped: handler queue full topic=%s", topic)
