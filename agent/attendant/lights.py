"""The lane light's shell: opens the `[attendant] light` driver (entry point group `omo_edge.lights`) and shows
what the light rule says, once per change (agent/attendant/light_rule.py decides; this only talks to it).

The driver module is imported when the component starts, so a lane without a light never loads it; a light
that is unplugged raises `DeviceUnavailable`: the component is degraded (the lane sells without it) and the
light is opened again with back-off, showing the current signal first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from agent.health import ComponentHealth

RETRY_S, MAX_RETRY_S = 1.0, 60.0


class LaneLight:
    """`want(signal)` from the status publisher; `run` is the supervised component."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.driver = str(spec["driver"])
        self.options = {k: v for k, v in spec.items() if k != "driver"}
        self.wanted: str | None = None
        self.shown: str | None = None
        self._changed = asyncio.Event()

    def want(self, signal: str) -> None:
        if signal != self.wanted:
            self.wanted = signal
            self._changed.set()

    async def run(self, health: ComponentHealth) -> None:
        """Supervised component: show each change; a light that fails is opened again with back-off (the lane
        sells without it, so it is degraded, never down)."""
        from drivers.base import DriverError
        from drivers.lights import open_light  # a lane without a light never loads its driver

        delay = RETRY_S
        while True:
            try:
                async with open_light(self.driver, self.options) as light:
                    health.ok()
                    delay = RETRY_S
                    await self._follow(light)
            except DriverError as exc:
                health.degraded(str(exc))
                self.shown = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_S)

    async def _follow(self, light: Any) -> None:
        from drivers.lights import Signal

        while True:
            if self.wanted is not None and self.wanted != self.shown:
                await light.show(Signal(self.wanted))
                self.shown = self.wanted
            self._changed.clear()
            if self.wanted == self.shown:
                await self._changed.wait()
