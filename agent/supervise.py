"""Start, watch and stop long-running components; restart a failed one with back-off while the rest go on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from agent.clock import Clock, SystemClock
from agent.health import ComponentHealth, HealthRegistry, State

logger = logging.getLogger(__name__)

# A component runs until cancelled; raising means "restart me later". It reports OK through its health.
Component = Callable[[ComponentHealth], Awaitable[None]]
Probe = Callable[[], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential back-off with jitter, reset once a component has stayed up for `reset_after_s`."""

    initial_s: float = 1.0
    max_s: float = 60.0
    factor: float = 2.0
    jitter: float = 0.2
    reset_after_s: float = 60.0

    def delay(self, attempt: int) -> float:
        base = min(self.max_s, self.initial_s * self.factor ** max(0, attempt - 1))
        return base * (1 + random.uniform(-self.jitter, self.jitter))


class Supervisor:
    """Owns one task per component; stops them in reverse start order."""

    def __init__(self, health: HealthRegistry, *, backoff: Backoff | None = None,
                 clock: Clock | None = None) -> None:
        self._health = health
        self._backoff = backoff or Backoff()
        self._clock = clock or SystemClock()
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @property
    def names(self) -> list[str]:
        return list(self._tasks)

    def start(self, name: str, run: Component, *, probe: Probe | None = None) -> None:
        """Run `run` as the component `name`; `probe` (details for health) goes in as its health is made, so a
        read of /v1/health never sees the component without it and the component assigns nothing on its health."""
        if name in self._tasks:
            raise ValueError(f"component {name!r} is already running")
        health = self._health.component(name, probe=probe)
        health.set(State.STARTING)
        self._tasks[name] = asyncio.create_task(self._keep_running(name, run, health), name=name)

    async def _keep_running(self, name: str, run: Component, health: ComponentHealth) -> None:
        attempt = 0
        while True:
            started = self._clock.monotonic()
            try:
                await run(health)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                health.down(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
                logger.debug("component %s failed", name, exc_info=True)
            else:
                health.set(State.STOPPED)
                return
            health.count("restarts")
            ran_for = self._clock.monotonic() - started
            attempt = 1 if ran_for >= self._backoff.reset_after_s else attempt + 1
            await self._clock.sleep(self._backoff.delay(attempt))

    async def stop(self, name: str, timeout_s: float = 3.0) -> None:
        task = self._tasks.pop(name, None)
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, timeout_s)
        if not task.done():
            logger.warning("component %s did not stop within %.1f s", name, timeout_s)
        self._health.component(name).set(State.STOPPED)

    async def stop_all(self, timeout_s: float = 3.0) -> None:
        for name in reversed(list(self._tasks)):
            await self.stop(name, timeout_s)
