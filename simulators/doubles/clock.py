"""FakeClock: time that moves only when a test says so, so timeouts, back-off and ages are tested without sleeping.

Two ways to let time pass: `advance(seconds)` moves both clocks and wakes every sleeper whose deadline has
come (an event loop turn later, as the real loop would); with `autoadvance=True` a `sleep` moves the clock by
itself and returns at once, for loops that only need to see the delays they asked for (the supervisor's
back-off). `sleeps` records every requested delay either way.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime


class FakeClock:
    """An `agent.clock.Clock` for tests."""

    def __init__(self, *, start_wall: float = 1_796_083_200.0, autoadvance: bool = False) -> None:
        self._mono = 1000.0                     # not 0: code that treats 0 as "never" must not be fooled
        self._wall = start_wall                 # 2026-12-01T00:00:00Z
        self.autoadvance = autoadvance
        self.sleeps: list[float] = []
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def monotonic(self) -> float:
        return self._mono

    def time(self) -> float:
        return self._wall

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._wall, UTC)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.autoadvance:
            self.advance(seconds)
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._mono + max(0.0, seconds), future))
        try:
            await future
        finally:
            self._sleepers = [(d, f) for d, f in self._sleepers if f is not future]

    def advance(self, seconds: float) -> None:
        """Move both clocks forward and wake the sleepers that are due."""
        self._mono += seconds
        self._wall += seconds
        for deadline, future in list(self._sleepers):
            if deadline <= self._mono and not future.done():
                future.set_result(None)

    def set_wall(self, epoch_s: float) -> None:
        """Step the wall clock alone, as NTP does after a register boots with a wrong time."""
        self._wall = epoch_s

    @property
    def sleeping(self) -> int:
        """How many sleeps are waiting for time to pass (a test can wait until a loop is parked)."""
        return sum(1 for _, f in self._sleepers if not f.done())
