"""The outbox relay: pending rows -> a window of QoS 1 publishes -> batched marks -> confirmation by the ingest.

Why a window and batched marks: paho's cost per message is the floor, so the relay's own work per
message is kept to a dict insert and a list append; marks for many PUBACKs and acks are written in one
transaction (one fsync) on the store's writer thread, so the drain never holds up a sale for long.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from typing import Any

from agent import outbox
from agent.errors import PublishError, StoreError
from agent.health import ComponentHealth
from agent.mqtt import Publisher
from agent.store import Database

logger = logging.getLogger(__name__)

CURSOR_START = (-1, 0)
PUBLISH_BATCH = 20
SWITCH_INTERVAL_S = 0.0005
MARKS_PER_WRITE = 500


class OutboxRelay:
    """Drains lane.db's outbox through a Publisher; `wake()` after a commit makes a new row go at once."""

    def __init__(self, db: Database, publisher: Publisher, *, delivery: str = "end-to-end", window: int = 100,
                 confirm_timeout_s: float = 30.0, retention_days: float = 7.0) -> None:
        self.db = db
        self.publisher = publisher
        self.broker_mode = delivery == "broker"
        self.window = window
        self.confirm_timeout_s = confirm_timeout_s
        self.retention_days = retention_days
        self._topics = {c: publisher.topics.lane(c) for c in ("sales", "sessions", "scans")}
        self._inflight: dict[int, int] = {}          # mid -> row id
        self._claimed: set[int] = set()              # row ids published or awaiting their mark
        self._sent: list[int] = []
        self._confirmed_ids: list[int] = []
        self._confirmed_events: list[str] = []
        self._flushing: list[int] = []
        self._hwm = 0
        self._acked = False
        self._cursor = CURSOR_START
        self._wakeup = asyncio.Event()
        self._refused_at = -1e9
        self._resend_all = False
        self._next_housekeeping = 0.0
        self._health: ComponentHealth | None = None
        handlers = publisher.handlers
        handlers.on_puback, handlers.on_ack, handlers.on_state = self._on_puback, self._on_ack, self._on_state

    def wake(self, priority: int | None = None) -> None:
        """Tell the relay new rows were committed (call after `await lane_db.write(record_sale, ...)`).

        A new row always has the highest id, so the drain cursor reaches it by itself unless it belongs to a
        class that drains before the cursor's (a sale behind a backlog of scans). Only then, or when the
        priority is not given, does the cursor go back to the start: re-reading from the start re-reads every
        claimed row, which during a scan-heavy drain cost the loop thread milliseconds per scan.
        """
        if priority is None or priority < self._cursor[0]:
            self._cursor = CURSOR_START
        self._wakeup.set()

    def probe(self) -> dict[str, Any]:
        """Outbox depth per class, oldest unconfirmed sale, last ack, in flight (for /v1/health)."""
        return {**outbox.depth(self.db.reader()), "inflight": len(self._inflight),
                "delivery": "broker" if self.broker_mode else "end-to-end"}

    async def run(self, health: ComponentHealth) -> None:
        """Supervised component: publish while connected, flush marks, resend late rows, prune old ones."""
        self._health = health
        health.probe = self.probe
        # The drain keeps the loop thread busy; at CPython's default 5 ms switch interval, each SQLite call of a
        # sale on the writer thread could wait 5 ms for the GIL. 0.5 ms keeps scan-to-commit p99 under 10 ms.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        health.ok()
        flushing: asyncio.Task[None] | None = None
        while True:
            if time.monotonic() >= self._next_housekeeping:
                await self._housekeeping()
                self._next_housekeeping = time.monotonic() + self._housekeeping_interval()
            more = False
            if self.publisher.connected.is_set() and len(self._inflight) <= self.window * 3 // 4:
                more = self._fill_window()
            if flushing is not None and flushing.done():
                flushing.result()   # a store error ends the relay; the supervisor restarts it
                flushing = None
            if flushing is None and self._has_marks():
                # Marks are written beside the drain, not before it: the window refills during the fsync.
                flushing = asyncio.create_task(self._flush())
            self._wakeup.clear()
            if more:
                await asyncio.sleep(0)   # let a scan's commit resume between publish batches
                continue
            try:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for returns the result and swallows a
                # cancel that lands as the wake-up fires, and the relay would then never stop.
                async with asyncio.timeout(0.5):
                    await self._wakeup.wait()
            except TimeoutError:
                self._cursor = CURSOR_START

    def _fill_window(self) -> bool:
        """Publish pending rows in (priority, id) order; skip rows already claimed. True: more to publish.

        At most PUBLISH_BATCH publishes per call: each costs the loop ~50-100 us in paho, and a whole window
        in one callback kept the scan pipeline waiting for the loop for milliseconds.
        """
        reader = self.db.reader()
        budget = PUBLISH_BATCH
        while (room := min(self.window - len(self._inflight), budget)) > 0:
            extra = min(len(self._claimed), 4 * self.window) if self._cursor == CURSOR_START else 0
            rows = outbox.pending(reader, self._cursor, room + extra)
            if not rows:
                return False
            for row in rows:
                if row.id not in self._claimed:
                    if room == 0 or not self._publish(row):
                        return room == 0
                    room -= 1
                    budget -= 1
                self._cursor = (row.priority, row.id)
        return budget == 0

    def _publish(self, row: outbox.Row) -> bool:
        try:
            mid = self.publisher.publish_nowait(self._topics[row.topic_class], row.payload)
        except PublishError as exc:
            logger.debug("publish deferred: %s", exc)
            return False
        self._inflight[mid] = row.id
        self._claimed.add(row.id)
        return True

    def _on_puback(self, mid: int, rc: int) -> None:
        row_id = self._inflight.pop(mid, None)
        if row_id is None:
            return
        if rc >= 0x80:
            self._claimed.discard(row_id)
            self._refused_at = time.monotonic()
            if self._health is not None:
                self._health.count("publish_refused")
                self._health.degraded(f"broker refused a publish (reason 0x{rc:02x}, e.g. 0x87 not authorized); "
                                      "check the broker ACL for this lane's topics. The row stays unsent")
            return
        (self._confirmed_ids if self.broker_mode else self._sent).append(row_id)
        self._wakeup.set()

    def _on_ack(self, payload: bytes) -> None:
        try:
            ack = json.loads(payload)
            self._confirmed_events.extend(str(e) for e in ack.get("event_ids", ()))
            self._hwm = max(self._hwm, int(ack.get("seq_hwm", 0)))
        except (ValueError, TypeError, AttributeError) as exc:
            logger.warning("ignoring malformed ack: %s", exc)
            return
        self._acked = True
        self._wakeup.set()

    def _on_state(self, up: bool) -> None:
        """A drop loses paho's in-flight set: those rows are still pending in the outbox and go again."""
        self._inflight.clear()
        self._claimed = set(self._sent) | set(self._confirmed_ids) | set(self._flushing)
        self._cursor = CURSOR_START
        self._resend_all = up
        self._next_housekeeping = 0.0
        self._wakeup.set()

    def _has_marks(self) -> bool:
        return bool(self._sent or self._confirmed_ids or self._confirmed_events or self._acked)

    async def _flush(self) -> None:
        # A bounded batch keeps each marks transaction short: a sale queued behind it waits for one batch only.
        sent, self._sent = self._sent[:MARKS_PER_WRITE], self._sent[MARKS_PER_WRITE:]
        ids, self._confirmed_ids = self._confirmed_ids[:MARKS_PER_WRITE], self._confirmed_ids[MARKS_PER_WRITE:]
        events, self._confirmed_events = (self._confirmed_events[:MARKS_PER_WRITE],
                                          self._confirmed_events[MARKS_PER_WRITE:])
        hwm, acked = self._hwm, self._acked
        self._acked = False
        self._flushing = [*sent, *ids]
        try:
            await self.db.write(outbox.apply_marks, sent, ids, events, hwm, acked)
        finally:
            self._claimed.difference_update(self._flushing)
            self._flushing = []
            self._wakeup.set()
        refused_lately = time.monotonic() - self._refused_at < 2 * self._housekeeping_interval()
        if self._health is not None and not refused_lately and (sent or ids):
            self._health.ok()

    def _housekeeping_interval(self) -> float:
        return max(1.0, self.confirm_timeout_s / 4)

    async def _housekeeping(self) -> None:
        """Resend what the ingest never confirmed (all of it right after a reconnect) and prune old rows."""
        try:
            if self._resend_all:
                self._resend_all = False
                await self.db.write(outbox.requeue_sent, None)
            elif not self.broker_mode and len(self._confirmed_events) < self.window:
                # Only when the acks already received are written: else rows whose ack waits in memory would be
                # sent again, and their acks would lengthen the queue that delayed them (a livelock).
                await self.db.write(outbox.requeue_sent, float(self.confirm_timeout_s))
            await self.db.write(outbox.prune, self.retention_days)
        except StoreError as exc:
            logger.warning("outbox housekeeping failed: %s", exc)
        self._cursor = CURSOR_START
