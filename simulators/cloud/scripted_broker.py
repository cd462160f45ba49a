"""A scripted MQTT 5 server on 127.0.0.1 for what a real mosquitto will not send on demand.

mosquitto is the broker of every other sync test. This one exists for protocol cases it cannot be made to
produce: a CONNACK with chosen properties (a small Receive Maximum), PUBACKs with a reason string, PUBACKs
held back for a while. It speaks just enough MQTT 5 for the agent's publisher: CONNECT -> CONNACK, and a
PUBACK for each QoS 1 PUBLISH; SUBSCRIBE and the rest are read and ignored. It counts the QoS 1 publishes
it has not acknowledged yet, which is what a broker's Receive Maximum limits.
"""

from __future__ import annotations

import asyncio
import contextlib


def mqtt_property(identifier: int, value: int | bytes, width: int = 2) -> bytes:
    """One MQTT 5 property: an integer of `width` bytes (Receive Maximum 0x21: 2, Maximum Packet Size 0x27: 4)
    or a UTF-8 string (reason string, 0x1F)."""
    if isinstance(value, int):
        return bytes([identifier]) + value.to_bytes(width, "big")
    return bytes([identifier]) + len(value).to_bytes(2, "big") + value


class ScriptedBroker:
    """`connack_properties` go in every CONNACK; each PUBACK is `mid` + `puback_tail`, sent `hold_s` late.

    With `maximum_packet_size`, a bigger packet closes the connection, as a broker that announced that
    Maximum Packet Size does (it counts in `oversized`); announcing it is up to `connack_properties`.
    """

    def __init__(self, connack_properties: bytes = b"", puback_tail: bytes = b"", hold_s: float = 0.0,
                 maximum_packet_size: int | None = None) -> None:
        self.connack_properties = connack_properties
        self.puback_tail = puback_tail
        self.hold_s = hold_s
        self.maximum_packet_size = maximum_packet_size
        self.oversized = 0
        self.published: list[tuple[str, bytes]] = []   # (topic, payload) of each QoS 1 PUBLISH
        self.publish_sizes: list[int] = []              # and its size in bytes, as it came
        self.unacknowledged = 0
        self.most_unacknowledged = 0
        self._server: asyncio.Server | None = None
        self._sessions: list[asyncio.Task[None]] = []

    async def start(self) -> int:
        """Listen on a free 127.0.0.1 port and return it."""
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening, end the open sessions and wait until they have closed their sockets."""
        if self._server is not None:
            self._server.close()
        for task in self._sessions:
            task.cancel()
        await asyncio.gather(*self._sessions, return_exceptions=True)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions.append(task)
        try:
            while True:
                header, body = await read_packet(reader)
                if self.maximum_packet_size is not None and packet_size(body) > self.maximum_packet_size:
                    self.oversized += 1
                    writer.write(bytes([0xE0, 2, 0x95, 0]))   # DISCONNECT, "packet too large", then close
                    return
                if header & 0xF0 == 0x10:     # CONNECT -> CONNACK: no session present, success, the properties
                    variable = bytes([0, 0, len(self.connack_properties)]) + self.connack_properties
                    writer.write(bytes([0x20, len(variable)]) + variable)
                elif header & 0xF0 == 0x30 and (header >> 1) & 3 == 1:   # PUBLISH at QoS 1
                    self.publish_sizes.append(packet_size(body))
                    self._received(body, writer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass   # the client went away
        finally:
            writer.close()

    def _received(self, body: bytes, writer: asyncio.StreamWriter) -> None:
        topic_length = int.from_bytes(body[:2], "big")
        mid = body[2 + topic_length:4 + topic_length]
        properties_length = body[4 + topic_length]   # the agent's publishes carry none, so one byte
        self.published.append((body[2:2 + topic_length].decode(), body[5 + topic_length + properties_length:]))
        self.unacknowledged += 1
        self.most_unacknowledged = max(self.most_unacknowledged, self.unacknowledged)
        puback = bytes([0x40, 2 + len(self.puback_tail)]) + mid + self.puback_tail
        if self.hold_s:
            asyncio.get_running_loop().call_later(self.hold_s, self._acknowledge, writer, puback)
        else:
            self._acknowledge(writer, puback)

    def _acknowledge(self, writer: asyncio.StreamWriter, puback: bytes) -> None:
        self.unacknowledged -= 1
        with contextlib.suppress(ConnectionError, RuntimeError):   # the session may have ended meanwhile
            writer.write(puback)


def packet_size(body: bytes) -> int:
    """A whole packet's bytes from the part after its remaining length."""
    length_bytes = 1 if len(body) < 128 else 2 if len(body) < 16384 else 3 if len(body) < 2097152 else 4
    return 1 + length_bytes + len(body)


async def read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """(fixed header byte, the rest of the packet)."""
    header = (await reader.readexactly(1))[0]
    length, shift = 0, 0
    while True:   # the variable-length remaining length
        byte = (await reader.readexactly(1))[0]
        length += (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return header, await reader.readexactly(length)
