"""The event hub: live events fanned out to WebSocket clients, fed by whatever the composition root wires to it.

Why its own module: the session and the catalog publish through a plain callable (`EventHub.publish`), so
they never import the HTTP server, and the scan path does not load aiohttp.

Bounded by construction: each subscriber has a queue of `queue_size` events and a slow one loses its oldest,
so `publish` never waits and never grows memory for a client that does not read (the server drops such a client
after its send timeout, agent/api/server.py). An event is serialised once for every WebSocket, not once per
client: with 100 screens and tools listening, serialising per client was work on the loop the scan path shares.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

import orjson

T = TypeVar("T")


def _put_latest(queue: asyncio.Queue[T], item: T) -> bool:
    """Queue `item`, dropping the oldest when full; True if one was dropped."""
    dropped = queue.full()
    if dropped:
        queue.get_nowait()
    queue.put_nowait(item)
    return dropped


class EventHub:
    """Fan-out of live events; a slow client loses old events, never blocks the lane."""

    def __init__(self, queue_size: int = 256) -> None:
        self._queues: set[asyncio.Queue[dict[str, Any]]] = set()
        self._streams: set[asyncio.Queue[str]] = set()
        self._queue_size = queue_size
        self.dropped = 0            # events a slow subscriber lost (its oldest first)

    def publish(self, event: dict[str, Any]) -> None:
        for queue in self._queues:
            self.dropped += _put_latest(queue, event)
        if self._streams:
            text = orjson.dumps(event, default=str).decode()
            for stream in self._streams:
                self.dropped += _put_latest(stream, text)

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        """Events as they were published (in-process listeners: the demo, benches)."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._queue_size)
        self._queues.add(queue)
        return queue

    def subscribe_text(self) -> asyncio.Queue[str]:
        """Events as JSON text, serialised once for all such subscribers (the WebSocket clients)."""
        stream: asyncio.Queue[str] = asyncio.Queue(self._queue_size)
        self._streams.add(stream)
        return stream

    def unsubscribe(self, queue: asyncio.Queue[Any]) -> None:
        self._queues.discard(queue)
        self._streams.discard(queue)

    @property
    def streams(self) -> int:
        """WebSocket clients subscribed now."""
        return len(self._streams)

    @property
    def queue_size(self) -> int:
        return self._queue_size

    def depths(self) -> list[int]:
        """Events waiting per WebSocket client (each at most queue_size)."""
        return [stream.qsize() for stream in self._streams]
