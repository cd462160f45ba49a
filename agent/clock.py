"""Time as a dependency, so that back-off, expiry and ages are tested by advancing a fake clock.

Every clock read on the session, sync and catalog paths goes through a `Clock`; tests pass
`simulators.clock.FakeClock` (fixture `fake_clock`) and advance it instead of sleeping.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """What components need to know about time."""

    def monotonic(self) -> float: ...
    def time(self) -> float: ...                 # wall clock, epoch seconds
    def now(self) -> datetime: ...               # wall clock, aware UTC
    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def rfc3339_ms(moment: datetime) -> str:
    """The contract's timestamp form: RFC 3339, UTC, milliseconds, `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


SYSTEM_CLOCK = SystemClock()
