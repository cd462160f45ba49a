"""Live updates for the pages (Server-Sent Events): each page gets a bounded queue; a page that stops reading
is dropped (it reconnects and is sent the whole board again), so one stuck tablet never holds the station."""

from __future__ import annotations

import asyncio
import json
from typing import Any

QUEUE_SIZE = 256


class Hub:
    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[bytes | None]] = set()

    def subscribe(self) -> asyncio.Queue[bytes | None]:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[bytes | None]) -> None:
        self._queues.discard(queue)

    def publish(self, event: str, data: Any) -> None:
        frame = f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()
        for queue in list(self._queues):
            try:
                queue.put_nowait(frame)
            except asyncio.QueueFull:
                self._queues.discard(queue)
                queue.get_nowait()
                queue.put_nowait(None)     # tells the stream to close

    def close_all(self) -> None:
        """Every stream ends now (the station is stopping): a page reconnects to whoever serves next."""
        for queue in list(self._queues):
            self._queues.discard(queue)
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(None)

    def __len__(self) -> int:
        return len(self._queues)
