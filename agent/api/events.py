"""The event hub: live events fanned out to their listeners, fed by whatever the composition root wires to it.

Why its own module: the session and the catalog publish through a plain callable (`EventHub.publish`), so
they never import the HTTP server, and the scan path does not load aiohttp.

`publish` never waits: in-process subscribers get a queue of `queue_size` events, a slow one losing its
oldest; the WebSocket clients get the event serialised once, as text, through the server's fan-out
(agent/api/fanout.py), which bounds what each client may cost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson


class EventHub:
    """Fan-out of live events; a slow listener loses events, never blocks the lane."""

    def __init__(self, queue_size: int = 256) -> None:
        self._queues: set[asyncio.Queue[dict[str, Any]]] = set()
        self._text: list[Callable[[str], None]] = []
        self._queue_size = queue_size

    def publish(self, event: dict[str, Any]) -> None:
        for queue in self._queues:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)
        if self._text:
            text = orjson.dumps(event, default=str).decode()
            for listener in self._text:
                listener(text)

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        """Events as they were published (in-process listeners: the demo, benches)."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._queue_size)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._queues.discard(queue)

    def listen_text(self, listener: Callable[[str], None]) -> None:
        """Every event as JSON text, serialised once for all text listeners (the WebSocket fan-out)."""
        self._text.append(listener)
