"""The outbox relay: pending rows -> a window of QoS 1 publishes -> confirmation by the ingest -> batched marks.

Why a window and batched marks: paho's cost per message is the floor, so the relay's own work per
message is kept to a few dict operations; the confirmations of many acks are written in one transaction on
the store's writer thread, so the drain never holds up a sale for long. "Published, waiting for the
ingest's ack" is kept in memory only (`_awaiting`): after a reconnect or a restart those rows go again
anyway, and writing that state doubled the relay's commits.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from agent.clock import SYSTEM_CLOCK, Clock
from agent.errors import PacketTooLarge, PublishError, StoreError
from agent.health import NOBODY, ComponentHealth, Observers
from agent.store import Database
from agent.sync import outbox
from agent.sync.confirmations import Confirmations, Reuse, parse_ack
from agent.sync.pending import PendingReader
from agent.sync.publisher_link import Handlers, PublisherLink
from agent.sync.rate import TokenBucket
from agent.sync.relay_health import RelayHealth

logger = logging.getLogger(__name__)

PUBLISH_BATCH = 10
SWITCH_INTERVAL_S = 0.0005
MARKS_PER_WRITE = 200
GIVE_WAY_S = 0.005   # at most this long per batch waiting for a sale's or scan's commit (Database.give_way)
# Rows published but not yet confirmed, at most this many windows: publishing far ahead of the ingest's acks
# only grows memory and the resend after a timeout, and a slow ingest should slow the drain, not be flooded.
AWAITING_WINDOWS = 20

P = TypeVar("P", bound=PublisherLink)


@dataclass(frozen=True, slots=True)
class RelaySettings:
    broker_mode: bool           # confirmed on PUBACK alone ([mqtt] delivery = "broker")
    window: int                 # QoS 1 publishes in flight at most
    confirm_timeout_s: float    # a row the ingest has not confirmed by then is sent again
    retention_days: float       # confirmed rows are pruned after this long
    max_publish_rate: float     # publishes a second at most (AWS IoT Core: 100 a connection); 0: no limit


class OutboxRelay(Generic[P]):
    """Drains lane.db's outbox through a Publisher; `wake()` after a commit makes a new row go at once.

    `connect` (e.g. `partial(Publisher, section, store_id, lane_id)`) makes the publisher with `handlers` plus
    the relay's own callbacks: it gets all it calls at construction, nothing is registered on it later.
    """

    def __init__(self, db: Database, connect: Callable[[Handlers], P], *, handlers: Handlers | None = None,
                 delivery: str = "end-to-end", window: int = 100, confirm_timeout_s: float = 30.0,
                 retention_days: float = 7.0, max_publish_rate: float = 0, clock: Clock = SYSTEM_CLOCK,
                 observers: Observers = NOBODY) -> None:
        publisher = connect(replace(handlers or Handlers(), on_puback=self._on_puback, on_ack=self._on_ack,
                                    on_state=self._on_state))
        self.db, self.publisher, self.clock = db, publisher, clock
        self.settings = RelaySettings(delivery == "broker", window, confirm_timeout_s, retention_days, max_publish_rate)
        self._rate = TokenBucket(max_publish_rate, clock.monotonic()) if max_publish_rate > 0 else None
        self.book = Confirmations(memory=window * AWAITING_WINDOWS)   # what the cloud holds (pure)
        self._topics = {c: publisher.topics.lane(c) for c in ("sales", "sessions", "scans")}
        self._inflight: dict[int, tuple[outbox.Row, float]] = {}   # mid -> (row, published at), until its PUBACK
        self._claimed: set[int] = set()                # row ids published, awaiting, or confirmed but not written
        self._flushing: list[int] = []
        self._pending = PendingReader(db, window)
        self._wakeup = asyncio.Event()
        self._next_housekeeping = 0.0
        self._health = RelayHealth(clock)              # what /v1/health says, and why (agent/sync/relay_health.py)
        # Latencies for the metrics the composition root wires (agent/api/metrics.py): publish to PUBACK by
        # class, and PUBACK to the ingest's ack.
        self.observe_publish = observers.publish
        self.observe_ack = observers.ack

    @property
    def window(self) -> int:
        return self.settings.window

    @property
    def confirm_timeout_s(self) -> float:
        return self.settings.confirm_timeout_s

    def wake(self, priority: int | None = None) -> None:
        """Tell the relay new rows were committed (call after `await lane_db.write(record_sale, ...)`).

        A new row always has the highest id, so the drain cursor reaches it by itself unless it belongs to a
        class that drains before the cursor's (a sale behind a backlog of scans). Only then, or when the
        priority is not given, does the cursor go back to the start: re-reading from the start re-reads every
        claimed row, which during a scan-heavy drain cost the loop thread milliseconds per scan.
        """
        if priority is None or priority < self._pending.cursor[0]:
            self._rewind()
        self._wakeup.set()

    def probe(self) -> dict[str, Any]:
        """Outbox depth per class, oldest unconfirmed sale, last ack, in flight (for /v1/health)."""
        return {**outbox.depth(self.db.reader(), self.clock), "inflight": len(self._inflight),
                "awaiting_confirmation": len(self.book.awaiting),
                "delivery": "broker" if self.settings.broker_mode else "end-to-end"}

    async def run(self, health: ComponentHealth) -> None:
        """Supervised component: publish while connected, flush marks, resend late rows, prune old ones."""
        self._health.supervised_by(health)
        reader = self.db.reader()
        self.book.stream_id = outbox.stream_id(reader)
        book = self.book
        book.last_seq, book.reused_up_to = outbox.seqs_in_use(reader)
        book.reused_written = book.reused_up_to
        written = outbox.ack_hwm(reader)
        book.hwm, book.hwm_written = max(book.hwm, written), written
        # The drain keeps the loop thread busy; at CPython's default 5 ms switch interval, each SQLite call of a
        # sale on the writer thread could wait 5 ms for the GIL.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        self._report(confirmed=True)
        flushing: asyncio.Task[None] | None = None
        while True:
            if self.clock.monotonic() >= self._next_housekeeping:
                await self._housekeeping()
                self._next_housekeeping = self.clock.monotonic() + self._housekeeping_interval()
            more = False
            if self.publisher.connected.is_set() and len(self._inflight) <= self._window() * 3 // 4:
                more = self._fill_window()
            if flushing is not None and flushing.done():
                flushing.result()   # a store error ends the relay; the supervisor restarts it
                flushing = None
            if flushing is None and self.book.has_marks():
                # Marks are written beside the drain, not before it: the window refills during the commit.
                flushing = asyncio.create_task(self._flush())
            self._wakeup.clear()
            if more:
                await asyncio.sleep(0)   # let a scan's commit resume between publish batches
                continue
            try:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for returns the result and swallows a
                # cancel that lands as the wake-up fires, and the relay would then never stop.
                async with asyncio.timeout(self._idle_s()):
                    await self._wakeup.wait()
            except TimeoutError:
                self._rewind()

    def _idle_s(self) -> float:
        """How long the loop waits for a wake-up: half a second, or until the rate limit allows a publish."""
        if self._rate is None:
            return 0.5
        return min(0.5, max(0.001, self._rate.wait_s(self.clock.monotonic())))

    def _window(self) -> int:
        """The configured window, or less when the broker's Receive Maximum is lower (MQTT 5 section 3.3.4)."""
        return min(self.window, self.publisher.send_quota())

    def _room(self) -> int:
        ahead = len(self._inflight) + len(self.book.awaiting)
        return min(self._window() - len(self._inflight), self.window * AWAITING_WINDOWS - ahead)

    def _fill_window(self) -> bool:
        """Publish pending rows in (priority, id) order; skip rows already claimed. True: more to publish.

        At most PUBLISH_BATCH publishes per call: each costs the loop ~50-100 us in paho, and a whole window
        in one callback kept the scan pipeline waiting for the loop for milliseconds. Measured (bench/drain.py):
        20 gave p99 8-11 ms, 10 gave 6.6-8.4 ms at a slightly higher rate, 5 gave 6.2 ms but 10% less rate.
        """
        self.db.give_way(GIVE_WAY_S)
        budget = PUBLISH_BATCH
        while min(self._room(), budget) > 0:
            ahead = self._pending.ahead
            while not ahead:   # a read may bring only rows already claimed
                if not self._pending.read(self._claimed):
                    return False
            row = ahead.popleft()
            if row.id in self._claimed:   # read a moment ago; published since, after a rewind
                continue
            if self._rate is not None and not self._rate.take(self.clock.monotonic(), 1):
                ahead.appendleft(row)     # over [mqtt] max_publish_rate: the run loop waits for the next token
                return False
            if not self._publish(row):
                ahead.appendleft(row)
                return False
            budget -= 1
        return budget == 0

    def _rewind(self) -> None:
        self._pending.rewind()

    def _publish(self, row: outbox.Row) -> bool:
        try:
            mid = self.publisher.publish_nowait(self._topics[row.topic_class], row.payload)
        except PacketTooLarge as exc:
            # Skipped on this connection (the broker would close it) and kept in the outbox; the rest go on.
            self._claimed.add(row.id)
            if self._health.packet_too_large(row.id, row.topic_class, row.seq, exc):
                self._report(confirmed=False)
            return True
        except PublishError as exc:
            logger.debug("publish deferred: %s", exc)
            return False
        self._inflight[mid] = (row, self.clock.monotonic())
        self._claimed.add(row.id)
        return True

    def _on_puback(self, mid: int, rc: int) -> None:
        entry = self._inflight.pop(mid, None)
        if entry is None:
            return
        row, published_at = entry
        if rc >= 0x80:
            self._claimed.discard(row.id)
            self._health.refused(rc)
            return
        now = self.clock.monotonic()
        self.observe_publish(row.topic_class, now - published_at)
        if self.settings.broker_mode:
            self.book.confirmed_by_broker(row.id)
        else:                                  # an ack may have come before its PUBACK: the book knows
            self.book.published(row.seq, row.id, row.event_id, now)
        self._wakeup.set()

    def _on_ack(self, payload: bytes) -> None:
        """Confirm in memory at once (so nothing acked is resent), and queue the write of the confirmation."""
        try:
            ack = parse_ack(payload, self.book.stream_id)
        except ValueError as exc:
            logger.warning("ignoring %s", exc)
            return
        if self.book.needs_last_seq(ack):
            self.book.last_seq = outbox.seqs_in_use(self.db.reader())[0]
        for reuse in self.book.on_ack(ack):
            self._seqs_reused(reuse)
        for seconds in self.book.take_ack_waits(self.clock.monotonic()):
            self.observe_ack(seconds)
        self._wakeup.set()

    def _seqs_reused(self, reuse: Reuse) -> None:
        """Another copy of this lane.db wrote seqs up to `reuse.up_to` too (a restored backup, a copied disk).

        Found two ways: the ingest holds seqs this file has not written yet, or the ingest reports an event it
        did not hold at a seq it held (`seq_reused_up_to` in its ack). Rows up to there are then confirmed only
        when the ingest names their event IDs (it names every event that arrives at or below its mark), and the
        relay says so in health until lane.db is moved aside. What the mark confirmed lately there is sent again.
        """
        self._health.seqs_reused(reuse)
        if reuse.taken_back:
            self._claimed.difference_update(reuse.taken_back)
            self._rewind()

    def _on_state(self, up: bool) -> None:
        """A drop loses paho's in-flight set and maybe the broker's queue: send again all that is unconfirmed."""
        self._inflight.clear()
        self._health.reconnected()   # too-large rows are tried again: the next broker may take them
        self._claimed = self.book.connection_lost() | set(self._flushing)
        self._rewind()
        self._next_housekeeping = 0.0
        self._wakeup.set()

    async def _flush(self) -> None:
        # A bounded batch keeps each marks transaction short: a sale queued behind it waits for one batch only.
        # After a pause of the loop one ack can release thousands of rows; updating them all in one transaction
        # held up a scan 15 ms.
        marks = self.book.take_marks(MARKS_PER_WRITE)
        self._flushing = marks.row_ids
        try:
            # Not durable (no fsync): a confirmation lost to a power cut only means the row is sent again.
            # A newly found reuse of seqs is, and so are the rows it takes back: after a restart neither could
            # be found again.
            await self.db.write(outbox.apply_marks, marks.row_ids, marks.event_ids, marks.hwm, marks.acked,
                                marks.reused_up_to, marks.taken_back, self.clock,
                                background=not self.book.new_reuse_unwritten(marks))
            self.book.written(marks)
        finally:
            self._claimed.difference_update(self._flushing)
            self._flushing = []
            if marks.taken_back:
                self._rewind()   # pending again, behind the cursor
            self._wakeup.set()
        self._report(bool(marks.row_ids))

    def _report(self, confirmed: bool) -> None:
        self._health.report(confirmed, self.book.reused_up_to, quiet_s=2 * self._housekeeping_interval())

    def _housekeeping_interval(self) -> float:
        return max(1.0, self.confirm_timeout_s / 4)

    async def _housekeeping(self) -> None:
        """Send again what the ingest has not confirmed within the timeout, and prune old rows."""
        late = self.book.late(self.clock.monotonic(), self.confirm_timeout_s)
        if late:
            self._claimed.difference_update(late)
            self._health.component.count("resent_unconfirmed", len(late))
        try:
            await self.db.write(outbox.prune, self.settings.retention_days, 5000, self.clock, background=True)
        except StoreError as exc:
            logger.warning("outbox housekeeping failed: %s", exc)
        self._rewind()
