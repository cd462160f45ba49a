"""The lane light's shell: opens the `[attendant] light` driver (entry point group `omo_edge.lights`) and shows
what the light rule says, once per change (agent/attendant/light_rule.py decides; this only talks to it).

The driver module is imported when the component starts, so a lane without a light never loads it; a light
that is unplugged raises `DeviceUnavailable`, the component is marked down and the supervisor opens it again
with back-off, showing the current signal first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from agent.health import ComponentHealth


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
        from drivers.lights import Signal, open_light  # a lane without a light never loads its driver

        self.shown = None
        try:
            async with open_light(self.driver, self.options) as light:
                health.ok()
                while True:
                    if self.wanted is not None and self.wanted != self.shown:
                        await light.show(Signal(self.wanted))
                        self.shown = self.wanted
                    self._changed.clear()
                    if self.wanted == self.shown:
                        await self._changed.wait()
        except Exception as exc:     # the driver's DeviceUnavailable: the supervisor retries with back-off
            health.down(f"light {self.driver}: {exc}")
            raise
