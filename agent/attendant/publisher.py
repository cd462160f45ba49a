"""Publishes the lane's retained `omo.lane_status/1` and drives the lane light (docs/architecture.md,
"The attendant station, lane side").

Why not through the outbox: the status is the latest state, not an event. It may be dropped while the broker
is away and is published again, as it then stands, on the next connect. It goes out when its content changed
(compared, not on a timer), and again only after `heartbeat_s` without a publish, so an idle lane still shows it
is alive and a busy one costs no more than its changes. The light follows every change, broker or not.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from agent.attendant.status import document
from agent.clock import SYSTEM_CLOCK, Clock
from agent.errors import PublishError
from agent.health import ComponentHealth

logger = logging.getLogger(__name__)
Publish = Callable[[bytes], Awaitable[None]]     # a retained QoS 1 publish to the status topic, PUBACK awaited


class StatusPublisher:
    """`changed()` after anything the status shows may have changed; `connected()` on every (re)connect."""

    def __init__(self, *, build: Callable[[], dict[str, Any]], publish: Publish, online: Callable[[], bool],
                 heartbeat_s: int, show_light: Callable[[str], None] = lambda signal: None,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.build, self.publish, self.online, self.heartbeat_s = build, publish, online, heartbeat_s
        self.show_light, self.clock = show_light, clock
        self.seq = 0
        self.published: dict[str, Any] | None = None     # the content last published, while connected
        self.last_publish = -float("inf")                 # monotonic
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    def changed(self) -> None:
        self._wake.set()

    def connected(self) -> None:
        """A new connection: what was published before may be gone or old; publish the state now."""
        self.published = None
        self._wake.set()

    async def run(self, health: ComponentHealth) -> None:
        """Supervised component: publish on change, heartbeat after silence."""
        health.ok()
        while True:
            # Offline (nothing in force): wait for a change or the next connect, not for a heartbeat.
            silent = self.clock.monotonic() - self.last_publish
            timeout = max(0.05, self.heartbeat_s - silent) if self.published is not None else None
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            await self.refresh()

    async def refresh(self) -> int | None:
        """Publish now if the content changed or the heartbeat is due; the seq of the status in force (None
        while nothing could be published)."""
        async with self._lock:
            content = self.build()
            self.show_light(content["light"])
            due = self.clock.monotonic() - self.last_publish >= self.heartbeat_s
            if content == self.published and not due:
                return self.seq
            if not self.online():
                self.published = None
                return None
            self.seq += 1
            body = document(content, self.seq, self.clock.time())
            try:
                await self.publish(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())
            except PublishError as exc:
                logger.info("lane status not published (%s); it goes again on the next connect", exc)
                self.published = None
                return None
            self.published, self.last_publish = content, self.clock.monotonic()
            return self.seq
