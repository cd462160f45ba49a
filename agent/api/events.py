"""The event hub: live events fanned out to WebSocket clients, fed by whatever the composition root wires to it.

Why its own module: the session and the catalog publish through a plain callable (`EventHub.publish`), so
they never import the HTTP server, and the scan path does not load aiohttp.
"""

from __future__ import annotations

import asyncio
from typing import Any


class EventHub:
    """Fan-out of live events to WebSocket clients; a slow client loses old events, never blocks the lane."""

    def __init__(self, queue_size: int = 256) -> None:
        self._queues: set[asyncio.Queue[dict[str, Any]]] = set()
        self._queue_size = queue_size

    def publish(self, event: dict[str, Any]) -> None:
        for queue in self._queues:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._queue_size)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._queues.discard(queue)
