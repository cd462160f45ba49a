"""What every driver shares between its device callback and `scans()`: bounce filter, counters, bounded queue.

Counter names follow the UnifiedPOS scanner statistics (`GoodScanCount`, `FailedScanCount`,
`CommunicationErrorCount`) in snake case, plus the few this agent adds; docs/drivers.md lists them.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping

from drivers.aim import symbology_for
from drivers.base import DeviceUnavailable, ScanEvent

GOOD = "good_scan_count"               # events delivered to the agent
FAILED = "failed_scan_count"           # frames dropped: garbage, too long, stale partial, unconfirmed
BOUNCE = "bounce_count"                # the same code again within bounce_ms: one scan, not two
OVERFLOW = "queue_overflow_count"      # the agent fell behind; the oldest undelivered scan was dropped
COMM_ERROR = "communication_error_count"


class BounceFilter:
    """Same code within `window_s` of the last sighting is a bounce (a held trigger, a re-read by the imager).

    The window slides from the last sighting, so a code that keeps repeating stays one scan; a shopper
    scanning the item again after the window is a new scan, and adds quantity later in the pipeline.
    """

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._last: tuple[bytes, float] | None = None

    def accept(self, data: bytes, now: float) -> bool:
        last, self._last = self._last, (data, now)
        return not (last is not None and last[0] == data and now - last[1] < self.window_s)


class ScanQueue:
    """A bounded queue from the device callback to `scans()`; on overflow the oldest scan is dropped and counted."""

    def __init__(self, device: str, counters: Counter[str], *, bounce_s: float, maxsize: int = 64) -> None:
        self.device = device
        self.counters = counters
        self.bounce = BounceFilter(bounce_s)
        self._queue: asyncio.Queue[ScanEvent | DeviceUnavailable] = asyncio.Queue(maxsize)

    def offer(self, data: bytes, raw: bytes, *, aim: str | None = None, symbology: str | None = None,
              at: float | None = None, addon: str | None = None) -> ScanEvent | None:
        """Turn a framed payload into a ScanEvent and queue it, unless it is a bounce."""
        now = time.monotonic() if at is None else at
        if not self.bounce.accept(data, now):
            self.counters[BOUNCE] += 1
            return None
        event = ScanEvent(device=self.device, symbology=symbology or symbology_for(aim, data), data=data,
                          text=data.decode("utf-8", "replace"), raw=raw, aim=aim, addon=addon,
                          received_at=time.time() - (time.monotonic() - now), monotonic=now)
        self._put(event)
        self.counters[GOOD] += 1
        return event

    def fail(self, error: DeviceUnavailable) -> None:
        """End `scans()` with this error once the scans queued before it are delivered."""
        self._put(error)

    def _put(self, item: ScanEvent | DeviceUnavailable) -> None:
        while True:
            try:
                self._queue.put_nowait(item)
                return
            except asyncio.QueueFull:
                dropped = self._queue.get_nowait()
                if isinstance(dropped, DeviceUnavailable):   # never lose the end of the stream
                    self._queue.put_nowait(dropped)
                    return
                self.counters[OVERFLOW] += 1

    async def events(self) -> AsyncIterator[ScanEvent]:
        while True:
            item = await self._queue.get()
            if isinstance(item, DeviceUnavailable):
                raise item
            yield item


def snapshot(counters: Counter[str], extra: Mapping[str, int] | None = None) -> dict[str, int]:
    """Counters as health shows them: the standard names always present, zeros included."""
    out = {GOOD: 0, FAILED: 0, BOUNCE: 0, OVERFLOW: 0}
    out.update(counters)
    out.update(extra or {})
    return out
