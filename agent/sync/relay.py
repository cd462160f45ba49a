"""The outbox relay: pending rows -> a window of QoS 1 publishes -> confirmation by the ingest -> batched marks.

Why a window and batched marks: paho's cost per message is the floor, so the relay's own work per
message is kept to a few dict operations; the confirmations of many acks are written in one transaction on
the store's writer thread, so the drain never holds up a sale for long. "Published, waiting for the
ingest's ack" is kept in memory only (`_awaiting`): after a reconnect or a restart those rows go again
anyway, and writing that state doubled the relay's commits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections import deque
from typing import Any, NamedTuple

from agent.errors import PacketTooLarge, PublishError, StoreError
from agent.health import ComponentHealth
from agent.store import Database
from agent.sync import outbox
from agent.sync.mqtt import Publisher

logger = logging.getLogger(__name__)

CURSOR_START = (-1, 0)
PUBLISH_BATCH = 10
READ_AHEAD = 100
SWITCH_INTERVAL_S = 0.0005
MARKS_PER_WRITE = 200
GIVE_WAY_S = 0.005   # at most this long per batch waiting for a sale's or scan's commit (Database.give_way)
# Rows published but not yet confirmed, at most this many windows: publishing far ahead of the ingest's acks
# only grows memory and the resend after a timeout, and a slow ingest should slow the drain, not be flooded.
AWAITING_WINDOWS = 20


class Awaiting(NamedTuple):
    """A row PUBACKed by the broker, waiting for the ingest's ack."""

    row_id: int
    event_id: str
    puback_at: float


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
        self._inflight: dict[int, outbox.Row] = {}     # mid -> row, until its PUBACK
        self._awaiting: dict[int, Awaiting] = {}       # seq -> row PUBACKed, until the ingest's ack
        self._seq_of_event: dict[str, int] = {}        # event_id -> seq, for acks that name events
        self._claimed: set[int] = set()                # row ids published, awaiting, or confirmed but not written
        self._confirmed_ids: list[int] = []            # to write: confirmed by PUBACK (broker) or by event id
        self._released: list[tuple[int, int]] = []      # (seq, row id) confirmed by the high-water mark
        # The same, kept a while after the write: if the ingest then reports that another copy of lane.db wrote
        # those seqs too, its mark proved nothing for them, and they are taken back (`_take_back`).
        self._by_mark: deque[tuple[int, int]] = deque(maxlen=window * AWAITING_WINDOWS)
        self._unconfirm: list[int] = []                 # to write: row ids taken back, pending again
        self._confirmed_events: list[str] = []         # to write: acked events this relay did not publish
        self._flushing: list[int] = []
        self._hwm = 0           # the ingest's high-water mark, as received
        self._hwm_written = 0   # as written to lane.db
        self._stream_id = ""    # lane.db's stream: a high-water mark for another stream confirms nothing
        self._last_seq = 0      # lane.db's last seq as last read: a genuine high-water mark never exceeds it
        self._reused_up_to = 0  # seqs another copy of lane.db used too: confirmed by event id only
        self._reused_written = 0
        self._acked = False
        self._cursor = CURSOR_START
        self._ahead: deque[outbox.Row] = deque()       # pending rows read past the window, in drain order
        self._wakeup = asyncio.Event()
        self._refused_at = -1e9
        self._too_large: dict[int, str] = {}           # row id -> why the broker cannot take it on this connection
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
            self._rewind()
        self._wakeup.set()

    def probe(self) -> dict[str, Any]:
        """Outbox depth per class, oldest unconfirmed sale, last ack, in flight (for /v1/health)."""
        return {**outbox.depth(self.db.reader()), "inflight": len(self._inflight),
                "awaiting_confirmation": len(self._awaiting),
                "delivery": "broker" if self.broker_mode else "end-to-end"}

    async def run(self, health: ComponentHealth) -> None:
        """Supervised component: publish while connected, flush marks, resend late rows, prune old ones."""
        self._health = health
        health.probe = self.probe
        reader = self.db.reader()
        self._stream_id = outbox.stream_id(reader)
        self._last_seq, self._reused_up_to = outbox.seqs_in_use(reader)
        self._reused_written = self._reused_up_to
        written = outbox.ack_hwm(reader)
        self._hwm, self._hwm_written = max(self._hwm, written), written
        # The drain keeps the loop thread busy; at CPython's default 5 ms switch interval, each SQLite call of a
        # sale on the writer thread could wait 5 ms for the GIL.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        self._report(confirmed=True)
        flushing: asyncio.Task[None] | None = None
        while True:
            if time.monotonic() >= self._next_housekeeping:
                await self._housekeeping()
                self._next_housekeeping = time.monotonic() + self._housekeeping_interval()
            more = False
            if self.publisher.connected.is_set() and len(self._inflight) <= self._window() * 3 // 4:
                more = self._fill_window()
            if flushing is not None and flushing.done():
                flushing.result()   # a store error ends the relay; the supervisor restarts it
                flushing = None
            if flushing is None and self._has_marks():
                # Marks are written beside the drain, not before it: the window refills during the commit.
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
                self._rewind()

    def _window(self) -> int:
        """The configured window, or less when the broker's Receive Maximum is lower (MQTT 5 section 3.3.4)."""
        return min(self.window, self.publisher.send_quota())

    def _room(self) -> int:
        ahead = len(self._inflight) + len(self._awaiting)
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
            while not self._ahead:   # a read may bring only rows already claimed
                if not self._read_ahead():
                    return False
            row = self._ahead.popleft()
            if row.id in self._claimed:   # read a moment ago; published since, after a rewind
                continue
            if not self._publish(row):
                self._ahead.appendleft(row)
                return False
            budget -= 1
        return budget == 0

    def _read_ahead(self) -> bool:
        """Read the next READ_AHEAD pending rows past the cursor; False when there are none.

        Why ahead of the window: one query per ten publishes was a fifth of the loop thread's time during a
        drain. A rewind (a sale behind scans, a reconnect, a timeout) drops what was read ahead.
        """
        extra = min(len(self._claimed), 4 * self.window) if self._cursor == CURSOR_START else 0
        rows = outbox.pending(self.db.reader(), self._cursor, READ_AHEAD + extra)
        if not rows:
            return False
        self._cursor = (rows[-1].priority, rows[-1].id)
        self._ahead.extend(row for row in rows if row.id not in self._claimed)
        return True

    def _rewind(self) -> None:
        """Read again from the first pending row: what was read ahead may be stale or behind a sale."""
        self._cursor = CURSOR_START
        self._ahead.clear()

    def _publish(self, row: outbox.Row) -> bool:
        try:
            mid = self.publisher.publish_nowait(self._topics[row.topic_class], row.payload)
        except PacketTooLarge as exc:
            # Skipped on this connection (the broker would close it) and kept in the outbox; the rest go on.
            self._claimed.add(row.id)
            if row.id not in self._too_large:
                self._too_large[row.id] = (f"{row.topic_class} event seq {row.seq} cannot be sent: {exc}. It "
                                           "stays in the outbox; raise the broker's maximum packet size (mosquitto: "
                                           "max_packet_size) and it goes on the next connection")
                logger.error("%s", self._too_large[row.id])
                if self._health is not None:
                    self._health.count("publish_too_large")
                    self._report(confirmed=False)
            return True
        except PublishError as exc:
            logger.debug("publish deferred: %s", exc)
            return False
        self._inflight[mid] = row
        self._claimed.add(row.id)
        return True

    def _on_puback(self, mid: int, rc: int) -> None:
        row = self._inflight.pop(mid, None)
        if row is None:
            return
        if rc >= 0x80:
            self._claimed.discard(row.id)
            self._refused_at = time.monotonic()
            if self._health is not None:
                self._health.count("publish_refused")
                self._health.degraded(f"broker refused a publish (reason 0x{rc:02x}, e.g. 0x87 not authorized); "
                                      "check the broker ACL for this lane's topics. The row stays unsent")
            return
        if self.broker_mode:
            self._confirmed_ids.append(row.id)
        elif row.seq > self._hwm or row.seq <= self._reused_up_to:   # an ack may have come before its PUBACK
            self._awaiting[row.seq] = Awaiting(row.id, row.event_id, time.monotonic())
            self._seq_of_event[row.event_id] = row.seq
        else:
            self._release(row.seq, row.id)
        self._wakeup.set()

    def _release(self, seq: int, row_id: int) -> None:
        self._released.append((seq, row_id))
        self._by_mark.append((seq, row_id))

    def _on_ack(self, payload: bytes) -> None:
        """Confirm in memory at once (so nothing acked is resent), and queue the write of the confirmation."""
        try:
            ack = json.loads(payload)
            event_ids = [str(e) for e in ack.get("event_ids", ())]
            # Another stream's seqs (an earlier lane.db of this lane, moved aside) say nothing about ours.
            ours = ack.get("stream_id") == self._stream_id
            hwm = int(ack.get("seq_hwm", 0)) if ours else 0
            reused = int(ack.get("seq_reused_up_to", 0)) if ours else 0
        except (ValueError, TypeError, AttributeError) as exc:
            logger.warning("ignoring malformed ack: %s", exc)
            return
        if reused > self._reused_up_to:   # the ingest saw a new event at a seq it held under another event ID
            self._seqs_reused(reused, "the ingest holds events of another copy of this lane.db at seqs up to %d")
        if hwm > self._hwm:
            if hwm > max(self._last_seq, self._reused_up_to):
                self._last_seq = outbox.seqs_in_use(self.db.reader())[0]
                if hwm > self._last_seq:
                    self._seqs_reused(hwm, f"the ingest holds seq %d of this lane.db's stream, which has written "
                                           f"only {self._last_seq}")
            self._release_up_to(hwm)
        for event_id in event_ids:
            seq = self._seq_of_event.pop(event_id, None)
            done = self._awaiting.pop(seq, None) if seq is not None else None
            if done is not None:
                self._confirmed_ids.append(done.row_id)
            elif seq is None and event_id:
                self._confirmed_events.append(event_id)
        self._acked = True
        self._wakeup.set()

    def _seqs_reused(self, up_to: int, evidence: str) -> None:
        """Another copy of this lane.db wrote seqs up to `up_to` too (a restored backup, a copied disk).

        Found two ways: the ingest holds seqs this file has not written yet, or the ingest reports an event it
        did not hold at a seq it held (`seq_reused_up_to` in its ack). Its high-water mark then speaks of that
        copy's events up to there, not of this file's: rows up to there are confirmed only when the ingest
        names their event IDs (it names every event that arrives at or below its mark), and the relay says so
        in health until lane.db is moved aside. What the mark confirmed lately at those seqs is taken back.
        """
        self._reused_up_to = up_to
        logger.warning(evidence + ": lane.db was restored from an older copy or copied from another lane", up_to)
        if self._health is not None:
            self._health.count("seq_reused")
        self._take_back(up_to)

    def _take_back(self, up_to: int) -> None:
        """Rows the mark confirmed lately at seqs another copy used too are pending again, to be named by ID.

        Why: the ingest reports such seqs once it has stored the first event of this copy at one of them, and
        an ack that came a moment before may have carried its mark over this copy's next rows before it
        stored them. They are sent again (the ingest drops a duplicate by event ID and names it).
        """
        doubtful = {row_id for seq, row_id in self._by_mark if seq <= up_to}
        if not doubtful:
            return
        self._by_mark = deque(((s, r) for s, r in self._by_mark if s > up_to), maxlen=self._by_mark.maxlen)
        self._released = [(s, r) for s, r in self._released if r not in doubtful]
        self._claimed -= doubtful
        self._unconfirm.extend(doubtful)
        if self._health is not None:
            self._health.count("confirmations_taken_back", len(doubtful))
        self._rewind()

    def _release_up_to(self, hwm: int) -> None:
        """Every seq up to `hwm` is confirmed; walk the new range or the awaiting rows, whichever is shorter.

        Seqs another copy of lane.db used too are left to the event-id acks (`_seqs_reused`).
        """
        low = max(self._hwm, self._reused_up_to)
        span = range(low + 1, hwm + 1)
        seqs = span if len(span) <= 2 * len(self._awaiting) else [s for s in self._awaiting if low < s <= hwm]
        for seq in seqs:
            done = self._awaiting.pop(seq, None)
            if done is not None:
                self._seq_of_event.pop(done.event_id, None)
                self._release(seq, done.row_id)
        self._hwm = hwm

    def _on_state(self, up: bool) -> None:
        """A drop loses paho's in-flight set and maybe the broker's queue: send again all that is unconfirmed."""
        self._inflight.clear()
        self._too_large.clear()   # tried again: the next broker (or its new settings) may take them
        self._awaiting.clear()
        self._seq_of_event.clear()
        self._claimed = set(self._confirmed_ids) | {row_id for _, row_id in self._released} | set(self._flushing)
        self._rewind()
        self._next_housekeeping = 0.0
        self._wakeup.set()

    def _has_marks(self) -> bool:
        return bool(self._confirmed_ids or self._released or self._confirmed_events or self._acked or self._unconfirm
                    or self._hwm > self._hwm_written or self._reused_up_to > self._reused_written)

    async def _flush(self) -> None:
        # A bounded batch keeps each marks transaction short: a sale queued behind it waits for one batch only.
        ids, self._confirmed_ids = self._confirmed_ids[:MARKS_PER_WRITE], self._confirmed_ids[MARKS_PER_WRITE:]
        events, self._confirmed_events = (self._confirmed_events[:MARKS_PER_WRITE],
                                          self._confirmed_events[MARKS_PER_WRITE:])
        # Rows the high-water mark released, MARKS_PER_WRITE at most per write too: after a pause of the loop
        # one ack can cover thousands of rows, and updating them all in one transaction held up a scan 15 ms.
        released = [row_id for _, row_id in self._released[:MARKS_PER_WRITE]]
        del self._released[:MARKS_PER_WRITE]
        taken_back, self._unconfirm = self._unconfirm[:MARKS_PER_WRITE], self._unconfirm[MARKS_PER_WRITE:]
        hwm, reused = self._hwm, self._reused_up_to
        acked, self._acked = self._acked, False
        marks = self._flushing = [*ids, *released]
        try:
            # Not durable (no fsync): a confirmation lost to a power cut only means the row is sent again.
            # A newly found reuse of seqs is, and so are the rows it takes back: after a restart neither could
            # be found again.
            await self.db.write(outbox.apply_marks, marks, events, hwm, acked, reused, taken_back,
                                background=reused <= self._reused_written and not taken_back)
            self._hwm_written = max(self._hwm_written, hwm)
            self._reused_written = max(self._reused_written, reused)
        finally:
            self._claimed.difference_update(self._flushing)
            self._flushing = []
            if taken_back:
                self._rewind()   # pending again, behind the cursor
            self._wakeup.set()
        if self._health is not None:
            self._report(bool(ids or released))

    def _report(self, confirmed: bool) -> None:
        assert self._health is not None
        if self._too_large:
            first = next(iter(self._too_large.values()))
            more = len(self._too_large) - 1
            self._health.degraded(first + (f" ({more} more events too)" if more else ""))
        elif self._reused_up_to:
            self._health.degraded(
                f"the ingest holds seqs up to {self._reused_up_to} of this lane.db's stream that another copy of "
                "the file wrote (restored from an older copy, or copied from another lane). No event is lost: "
                "those rows are confirmed one by one. Once the outbox has drained, stop the agent and move "
                "lane.db aside (a new stream starts)")
        elif confirmed and time.monotonic() - self._refused_at >= 2 * self._housekeeping_interval():
            self._health.ok()

    def _housekeeping_interval(self) -> float:
        return max(1.0, self.confirm_timeout_s / 4)

    async def _housekeeping(self) -> None:
        """Send again what the ingest has not confirmed within the timeout, and prune old rows."""
        self._resend_late()
        try:
            await self.db.write(outbox.prune, self.retention_days, background=True)
        except StoreError as exc:
            logger.warning("outbox housekeeping failed: %s", exc)
        self._rewind()

    def _resend_late(self) -> None:
        cutoff = time.monotonic() - self.confirm_timeout_s
        late = [seq for seq, waiting in self._awaiting.items() if waiting.puback_at < cutoff]
        for seq in late:
            waiting = self._awaiting.pop(seq)
            self._seq_of_event.pop(waiting.event_id, None)
            self._claimed.discard(waiting.row_id)
        if late and self._health is not None:
            self._health.count("resent_unconfirmed", len(late))
