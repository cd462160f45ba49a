"""MQTT 5 connection over paho-mqtt 2.x on the asyncio loop: the only module that imports paho.

Why on the loop and not in paho's thread: every callback (PUBACK, acks, commands) then runs on the
loop thread, so the relay needs no locks, and paho batches the packets of one loop turn into one write.
The blocking parts (TCP connect, TLS handshake) run in an executor. Each connection gets a fresh paho
client (clean start): the outbox, not paho's in-memory queue, is what gets re-sent after a drop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from agent.config import MqttSection
from agent.errors import PacketTooLarge, PublishError
from agent.health import ComponentHealth
from agent.sync import tls
from agent.sync.buffered_socket import BufferedSocket

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
MQTT5_RECEIVE_MAXIMUM = 65535   # what a CONNACK without the property means (MQTT 5 section 3.2.2.3.3)
CERT_RENEW_DAYS = 21.0          # health turns degraded this long before the client certificate expires
_CONNACK = {0x86: "bad user name or password", 0x87: "not authorized", 0x85: "client identifier not valid",
            0x88: "server unavailable", 0x8A: "banned"}
# What store IT can do about a refused connection (mosquitto answers a wrong password with 0x87).
_CONNACK_FIX = {0x86: "check [mqtt] username and the password in password_file",
                0x87: "check [mqtt] username and password_file, or the client certificate, against the broker's users",
                0x85: "give each lane its own [mqtt] client_id"}


# The reason codes a PUBACK may carry, made once: paho makes a new ReasonCode per PUBACK (copying its table of
# names each time) and a new Properties. Shared, and never changed by a reader.
_PUBACK_REASONS = {code: ReasonCode(PacketTypes.PUBACK, identifier=code)
                   for code, uses in ReasonCode.names.items()
                   if any(PacketTypes.PUBACK in packet_types for packet_types in uses.values())}
_NO_PROPERTIES = Properties(PacketTypes.PUBACK)  # type: ignore[no-untyped-call]


class _Client(paho.Client):
    """paho's client with a shortcut for PUBACKs without properties: nearly all of them.

    Why: paho decodes every MQTT 5 PUBACK into new ReasonCode and Properties objects (two of each when a
    reason code is present), a fifth of the loop thread's time during a drain. By MQTT 5 section 3.4.2, a
    PUBACK of remaining length 2 is success with no properties, and one of length 3 carries a reason code and
    no properties; both go to `on_publish` with shared objects, the code intact (a refusal is still one).
    A PUBACK with properties (a reason string) or an unknown code takes paho's own path.
    tests/test_mqtt_publisher.py checks both paths, and that paho still has the method replaced here.
    """

    def _handle_pubackcomp(self, cmd: Any) -> MQTTErrorCode:
        packet = self._in_packet["packet"]
        reason = None
        if cmd == "PUBACK" and self._protocol == MQTTProtocolVersion.MQTTv5 and 2 <= len(packet) <= 3:
            reason = _PUBACK_REASONS.get(packet[2] if len(packet) == 3 else 0)
        if reason is None:
            return super()._handle_pubackcomp(cmd)
        mid = int.from_bytes(packet[:2], "big")
        with self._out_message_mutex:
            if mid in self._out_messages:
                return self._do_on_publish(mid, reason, _NO_PROPERTIES)
        return MQTTErrorCode.MQTT_ERR_SUCCESS


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


class Publisher:
    """One lane's MQTT session: connect with back-off, birth and will, subscriptions, QoS 1 publishes."""

    def __init__(self, section: MqttSection, store_id: str, lane_id: str, handlers: Handlers | None = None) -> None:
        self.section = section
        self.topics = Topics(section.topic_prefix, store_id, lane_id)
        self.handlers = handlers or Handlers()
        self.connected = asyncio.Event()
        self.cert_expiry = tls.cert_expiry(section.cert_file)
        self._client: paho.Client | None = None
        self._waiters: dict[int, asyncio.Future[int]] = {}
        self._inbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(maxsize=1000)
        self._lost: asyncio.Future[str] | None = None
        self._last_in = 0.0
        self._tls: tls.NamedContext | None = None
        self._io: BufferedSocket | None = None
        self._write_soon = False    # a write is scheduled for the next loop turn
        self._write_waits = False   # the socket was full: the selector watches for writable
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

    def publish_nowait(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int:
        """Hand one message to paho and return its mid; PUBACK comes to `handlers.on_puback(mid, rc)`."""
        client = self._client
        if client is None or not self.connected.is_set():
            raise PublishError("not connected to the broker", MQTTErrorCode.MQTT_ERR_NO_CONN.value)
        limit = self.maximum_packet_size
        if limit is not None and (size := publish_packet_size(topic, payload, qos)) > limit:
            raise PacketTooLarge(f"a {size}-byte publish to {topic} is over the broker's maximum packet size of "
                                 f"{limit} bytes", 0x95)
        info = client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise PublishError(f"publish to {topic} refused by the client: {paho.error_string(info.rc)}", info.rc)
        return info.mid

    async def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False,
                      timeout_s: float = 10.0) -> None:
        """Publish and wait for the PUBACK; raise PublishError on an error reason code or a timeout."""
        mid = self.publish_nowait(topic, payload, qos, retain)
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
        """Supervised component: stay connected, reconnecting with exponential back-off and jitter."""
        health.probe = self.probe
        attempt = 0
        while True:
            connected_at = time.monotonic()
            try:
                await self._session(health)
            except (OSError, PublishError, TimeoutError, ValueError) as exc:
                self.state = "disconnected"
                health.down(f"MQTT {self.section.host}:{self.section.port}: {_describe(exc)}")
            if time.monotonic() - connected_at > 60:
                attempt = 0
            attempt += 1
            await asyncio.sleep(min(60.0, 0.5 * 2 ** min(attempt, 8)) * random.uniform(0.5, 1.0))

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
        self._lost = loop.create_future()
        sock = client.socket()
        if sock is None:   # closed while connecting: TLS 1.3 reports a refused client certificate only now
            raise PublishError("connection closed while connecting; with TLS, check the client certificate", 0)
        self._client = client
        try:
            # paho leaves Nagle on: a 300-byte publish would wait for the broker's delayed ACK (~40 ms).
            if isinstance(sock, socket.socket):   # ssl.SSLSocket is one too
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._attach(loop, client, sock)
            waits: list[asyncio.Future[Any]] = [connack, self._lost]
            await asyncio.wait(waits, timeout=CONNECT_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
            if not connack.done():
                why = self._lost.result() if self._lost.done() else "no CONNACK in time"
                raise PublishError(f"connection closed before CONNACK ({why}); with TLS, the broker may have "
                                   "refused the client certificate", 0)
            rc = connack.result()
            if rc != 0:
                why = _CONNACK.get(rc, "see the MQTT 5 CONNACK reason codes")
                fix = _CONNACK_FIX.get(rc)
                raise PublishError(f"broker refused the connection: reason 0x{rc:02x} ({why})"
                                   + (f". Fix: {fix}" if fix else ""), rc)
            await self._on_connected(health)
            await self._serve(health)
        finally:
            self._detach(loop, client, sock)

    def _check_certificate(self, health: ComponentHealth) -> None:
        """Degraded weeks before the client certificate expires: after that the broker refuses the lane."""
        left = tls.days_left(self.cert_expiry)
        if left is not None and self.cert_expiry is not None and left < CERT_RENEW_DAYS:
            health.degraded(f"client certificate {self.section.cert_file} expires in {max(left, 0):.0f} days "
                            f"({self.cert_expiry:%Y-%m-%d}); install a renewed certificate at that path and "
                            "reload the config before then, or the broker will refuse this lane")

    def _new_client(self, loop: asyncio.AbstractEventLoop) -> paho.Client:
        client = _Client(CallbackAPIVersion.VERSION2, client_id=self.section.client_id,
                         protocol=MQTTProtocolVersion.MQTTv5, reconnect_on_failure=False)
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
        client.on_disconnect = lambda c, u, flags, rc, props: self._mark_lost(str(rc))
        return client

    def _on_connack(self, client: paho.Client, connack: asyncio.Future[int], flags: Any, rc: Any, props: Any) -> None:
        previous, self.receive_maximum = self.receive_maximum, int(getattr(props, "ReceiveMaximum",
                                                                             MQTT5_RECEIVE_MAXIMUM))
        limit = getattr(props, "MaximumPacketSize", None)
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
            client.connect(self.section.host, self.section.port, keepalive=self.section.keepalive_s,
                           clean_start=True)
        except BaseException:
            if self._tls is not None and self._tls.last_socket is not None:
                self._tls.last_socket.close()
            raise

    def _attach(self, loop: asyncio.AbstractEventLoop, client: paho.Client, sock: Any) -> None:
        fd = sock.fileno()
        io = self._io = BufferedSocket(sock)
        client._sock = io   # paho 2.x reads and writes through this attribute; the CONNECT already went
        self._write_soon = self._write_waits = False
        loop.add_reader(fd, self._readable, client, io)
        # paho asks for a write after each packet it queues: the packets of one loop turn go out together in
        # the next turn. The selector is asked to watch for writable only while the socket is full, instead of
        # adding and removing a writer (two epoll_ctl calls and a wake-up) per batch of publishes.
        client.on_socket_register_write = lambda c, u, s: self._write_next_turn(loop, c)
        client.on_socket_close = lambda c, u, s: self._release(loop, fd)
        if client.want_write():
            self._write_next_turn(loop, client)
        self._last_in = time.monotonic()

    def _write_next_turn(self, loop: asyncio.AbstractEventLoop, client: paho.Client) -> None:
        if not self._write_soon:
            self._write_soon = True
            loop.call_soon(self._writable, client)

    def _release(self, loop: asyncio.AbstractEventLoop, fd: int) -> None:
        loop.remove_reader(fd)
        loop.remove_writer(fd)
        self._write_waits = False
        self._mark_lost("socket closed")

    def _detach(self, loop: asyncio.AbstractEventLoop, client: paho.Client, sock: Any) -> None:
        was_up = self.connected.is_set()
        self.connected.clear()
        self._client = None
        self._io = None
        with contextlib.suppress(OSError, ValueError):
            self._release(loop, sock.fileno())
        with contextlib.suppress(OSError, ValueError):
            sock.close()
        for future in self._waiters.values():
            if not future.done():
                future.set_exception(PublishError("connection lost before PUBACK", 0x80))
        if was_up:
            self.handlers.on_state(False)

    def _readable(self, client: paho.Client, io: BufferedSocket) -> None:
        self._last_in = time.monotonic()
        client.loop_read()
        if self._client is client and io.pending():   # bytes read ahead (or TLS records) the selector won't see
            asyncio.get_running_loop().call_soon(self._readable, client, io)

    def _writable(self, client: paho.Client) -> None:
        self._write_soon = False
        client.loop_write()   # paho's queued packets -> the buffer
        io = self._io
        if io is None or self._client is not client:
            return
        try:
            drained = io.flush()
        except OSError as exc:
            self._mark_lost(f"send failed: {exc}")
            return
        if drained == self._write_waits:   # the socket filled up, or has room again
            loop = asyncio.get_running_loop()
            if drained:
                loop.remove_writer(io.fileno())
            else:
                loop.add_writer(io.fileno(), self._writable, client)
            self._write_waits = not drained

    def _mark_lost(self, why: str) -> None:
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(why)

    async def _on_connected(self, health: ComponentHealth) -> None:
        client = self._client
        assert client is not None
        client.subscribe([(self.topics.lane("acks"), 1), (self.topics.catalog, 1), (self.topics.lane("commands"), 1)])
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
        logger.info("mqtt connected host=%s port=%s client_id=%s", self.section.host, self.section.port,
                    self.section.client_id)

    async def _serve(self, health: ComponentHealth) -> None:
        """Tick paho's keepalive, dispatch catalog and commands in order, notice a dead link and an ageing
        certificate (a lane may stay connected for weeks)."""
        consumer = asyncio.create_task(self._consume())
        next_certificate_check = time.monotonic() + 3600
        try:
            assert self._lost is not None
            while not self._lost.done():
                await asyncio.wait([self._lost], timeout=1.0)
                if self._client is not None:
                    self._client.loop_misc()
                self._check_stalled()
                if time.monotonic() >= next_certificate_check:
                    next_certificate_check = time.monotonic() + 3600
                    self._check_certificate(health)
            raise PublishError(f"connection lost ({self._lost.result()})", 0)
        finally:
            consumer.cancel()

    def _check_stalled(self) -> None:
        """Half-open link: publishes wait and nothing at all comes back for a keepalive period."""
        silent = time.monotonic() - self._last_in
        if self._client is not None and self._client._out_messages and silent > self.section.keepalive_s:
            logger.warning("mqtt link silent for %.1f s with publishes waiting; reconnecting", silent)
            self._mark_lost("no PUBACK or data within keepalive")

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
        try:
            self._inbox.put_nowait((topic, bytes(message.payload)))
        except asyncio.QueueFull:
            logger.warning("cloud-to-edge message dropped: handler queue full topic=%s", topic)

    async def _consume(self) -> None:
        while True:
            topic, payload = await self._inbox.get()
            handler = (self.handlers.on_catalog_delta if topic == self.topics.catalog
                       else self.handlers.on_command)
            if handler is None:
                continue
            try:
                await handler(payload)
            except Exception:
                logger.exception("handler for %s failed", topic)


def publish_packet_size(topic: str, payload: bytes, qos: int = 1) -> int:
    """Bytes of an MQTT 5 PUBLISH as paho sends it: fixed header, topic, mid (QoS > 0), no properties, payload."""
    remaining = 2 + len(topic.encode()) + (2 if qos else 0) + 1 + len(payload)
    length_bytes = 1 if remaining < 128 else 2 if remaining < 16384 else 3 if remaining < 2097152 else 4
    return 1 + length_bytes + remaining


def _describe(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out; check the network path and the broker"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused; is the broker running on that port?"
    text = str(exc) or type(exc).__name__
    if "CERTIFICATE" in text.upper() or "SSL" in text.upper():
        return f"TLS failed ({text}); check ca_file, cert_file, key_file and server_name"
    return text
