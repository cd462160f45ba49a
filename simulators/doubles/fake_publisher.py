"""FakePublisher: an in-memory MQTT publisher for the relay's unit tests (no broker, no sockets).

It implements `agent.sync.publisher_link.PublisherLink`: `publish_nowait` records the message and hands out a mid; the
test decides when the broker answers (`puback`), what the ingest acks (`ack`), and when the link drops
(`drop`) or comes back (`up`). `fail_next(n)` refuses the next n publishes as a full client would, and
`max_packet_size` refuses bigger ones as a strict broker would.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from agent.errors import PacketTooLarge, PublishError
from agent.sync.publisher_link import Handlers, Topics, publish_packet_size


@dataclass
class Published:
    mid: int
    topic: str
    payload: dict[str, Any]


class FakePublisher:
    def __init__(self, handlers: Handlers | None = None, *, quota: int = 65535) -> None:
        self.topics = Topics("omo/v1", "store-001", "lane-01")
        self.handlers = handlers or Handlers()
        self.connected = asyncio.Event()
        self.quota = quota
        self.max_packet_size: int | None = None
        self.published: list[Published] = []
        self.unacked: dict[int, Published] = {}
        self._next_mid = 1
        self._failures = 0

    def send_quota(self) -> int:
        return self.quota

    def fail_next(self, count: int) -> None:
        self._failures = count

    def publish_nowait(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int:
        if not self.connected.is_set():
            raise PublishError("not connected to the broker", 4)
        if self._failures:
            self._failures -= 1
            raise PublishError("the client's queue is full", 15)
        size = publish_packet_size(topic, payload, qos)
        if self.max_packet_size is not None and size > self.max_packet_size:
            raise PacketTooLarge(f"a {size}-byte publish is over the broker's maximum of {self.max_packet_size}",
                                 0x95)
        mid, self._next_mid = self._next_mid, self._next_mid + 1
        message = Published(mid, topic, json.loads(payload))
        self.published.append(message)
        self.unacked[mid] = message
        return mid

    def puback(self, count: int | None = None, rc: int = 0) -> list[Published]:
        """The broker acknowledges the oldest `count` unacknowledged publishes (all when None)."""
        mids = sorted(self.unacked)[:count]
        done = [self.unacked.pop(mid) for mid in mids]
        for message in done:
            self.handlers.on_puback(message.mid, rc)
        return done

    def ack(self, stream_id: str, *, event_ids: list[str] | None = None, seq_hwm: int = 0,
            seq_reused_up_to: int = 0) -> None:
        """The ingest's ack on the lane's `acks` topic."""
        body: dict[str, Any] = {"schema": "omo.ack/1", "stream_id": stream_id, "event_ids": event_ids or [],
                                "seq_hwm": seq_hwm}
        if seq_reused_up_to:
            body["seq_reused_up_to"] = seq_reused_up_to
        self.handlers.on_ack(json.dumps(body).encode())

    def up(self) -> None:
        self.handlers.on_state(True)
        self.connected.set()

    def drop(self) -> None:
        self.connected.clear()
        self.unacked.clear()
        self.handlers.on_state(False)

    @property
    def seqs(self) -> list[int]:
        return [int(message.payload["seq"]) for message in self.published]
