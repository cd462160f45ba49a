"""What every scale driver shares: stable and live weights from one `_poll`, the counters, the open errors.

A protocol driver supplies `_poll()` (one fresh Reading: a request answered on a serial scale, the next report
of a HID scale); this base turns it into UnifiedPOS's two reads. `read_stable` polls until the scale itself
says the weight is still and in range, so an item settling on the platter is waited out, never sold in motion.
`live` polls at `rate_hz` for a display.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping

from drivers.base import DeviceUnavailable, UnavailableReason
from drivers.base import cannot_open as base_cannot_open
from drivers.options import Options
from drivers.scales import NoStableWeight, Reading, ZeroNotSupported

READINGS, GARBLED, SILENT = "readings_count", "garbled_count", "no_reply_count"


class PolledScale:
    """The shared half of a scale driver; subclasses set `name` and implement `_poll` (and `zero` if they can)."""

    name = "scale"

    def __init__(self, o: Options) -> None:
        self.rate_hz = o.number("rate_hz", 10, 0.5, 50)
        self.reply_timeout_s = o.integer("reply_timeout_ms", 500, 20, 10_000) / 1000
        self.silent_limit = o.integer("silent_polls", 3, 1, 100)
        self._counts: Counter[str] = Counter()
        self._silent_in_a_row = 0

    async def read_stable(self, timeout_s: float) -> Reading:
        """The first reading the scale calls stable within `timeout_s`; NoStableWeight if none comes."""
        deadline = time.monotonic() + timeout_s
        last: Reading | None = None
        while True:
            last = await self._poll_counted()
            if last.stable:
                return last
            left = deadline - time.monotonic()
            if left <= 0:
                raise NoStableWeight(last, timeout_s)
            await asyncio.sleep(min(1 / self.rate_hz, left))

    async def live(self) -> AsyncIterator[Reading]:
        """Every reading at `rate_hz`, stable or not, until the scale goes away (DeviceUnavailable)."""
        period = 1 / self.rate_hz
        while True:
            started = time.monotonic()
            yield await self._poll_counted()
            await asyncio.sleep(max(0.0, period - (time.monotonic() - started)))

    async def zero(self) -> None:
        raise ZeroNotSupported(f"the {self.name} protocol has no zero command. Fix: press the scale's zero key")

    def counters(self) -> Mapping[str, int]:
        return {key: self._counts[key] for key in (READINGS, GARBLED, SILENT)}

    def garbled(self, count: int = 1) -> None:
        """A reply (or a run of bytes) that was not a reading: skipped, counted for health."""
        self._counts[GARBLED] += count

    async def _poll_counted(self) -> Reading:
        try:
            result = await self._poll()
        except TimeoutError:
            self._counts[SILENT] += 1
            self._silent_in_a_row += 1
            if self._silent_in_a_row >= self.silent_limit:
                raise DeviceUnavailable(UnavailableReason.FAILED, f"scale {self.name!r} gave no reading in "
                                        f"{self._silent_in_a_row} polls. Fix: check the protocol, baud rate and "
                                        "parity set on the scale against the config") from None
            return await self._poll_counted()
        self._silent_in_a_row = 0
        self._counts[READINGS] += 1
        return result

    async def _poll(self) -> Reading:
        """One fresh reading; TimeoutError if none came within `reply_timeout_s`."""
        raise NotImplementedError


def cannot_open(driver: str, path: str, exc: Exception) -> DeviceUnavailable:
    """The scale could not be opened: why, and the fix."""
    return base_cannot_open(f"scale {driver!r}", path, exc, thing="scale")


def went_away(driver: str, path: str, exc: OSError | None) -> DeviceUnavailable:
    """A read or write on an open scale failed: it was unplugged (or broke); the supervisor reopens it."""
    cause = "end of file" if exc is None else (os.strerror(exc.errno) if exc.errno else str(exc))
    return DeviceUnavailable(UnavailableReason.UNPLUGGED, f"scale {driver!r} at {path} went away ({cause}). "
                                                          "Fix: plug it back in; the agent reopens it by itself")


def not_open(driver: str) -> DeviceUnavailable:
    return DeviceUnavailable(UnavailableReason.FAILED, f"scale {driver!r} is not open. "
                                                       "Fix: use it inside `async with` (the agent reopens it)")
