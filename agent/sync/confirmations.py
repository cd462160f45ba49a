"""Which outbox rows the cloud holds (pure): the ingest's acks, its seq high-water mark, and seqs two copies used.

The relay publishes; this module decides what is confirmed, from PUBACKs and acks alone, with every time
passed in, so the rules are tested with tables (tests/sync/test_sync_confirmations.py). The rules:
- A row PUBACKed by the broker waits for the ingest (`awaiting`) unless the mark already covers its seq.
- An ack's `event_ids` confirm those rows; an event this relay did not publish (sent before a restart) is
  confirmed by its ID in lane.db.
- The mark (`seq_hwm`, for this lane.db's stream only) confirms every awaiting row at or below it, but only
  rows this relay published itself, never a range: a lane.db restored from an older copy may hold new,
  unsent rows at seqs the mark covers.
- Two copies of lane.db wrote the same seqs when the mark goes past the last seq this file wrote, or the
  ingest says so (`seq_reused_up_to`). Seqs up to there are then confirmed by event ID only, and what the
  mark confirmed there lately (the last `memory` releases) is taken back and sent again.
- A row awaiting longer than the confirmation timeout is sent again (the ingest drops a duplicate by ID).
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import NamedTuple


class Awaiting(NamedTuple):
    """A row PUBACKed by the broker, waiting for the ingest's ack."""

    row_id: int
    event_id: str
    puback_at: float


@dataclass(frozen=True, slots=True)
class Ack:
    event_ids: tuple[str, ...]
    seq_hwm: int                # 0 when the ack speaks of another stream (an earlier lane.db of this lane)
    reused_up_to: int


@dataclass(frozen=True, slots=True)
class Reuse:
    """A finding for the log and health: another copy of lane.db wrote seqs up to `up_to`."""

    up_to: int
    evidence: str
    taken_back: tuple[int, ...]     # rows the mark had confirmed there lately, pending again


@dataclass(frozen=True, slots=True)
class Marks:
    """One bounded batch of confirmations to write to lane.db (outbox.apply_marks)."""

    row_ids: list[int]
    event_ids: list[str]
    hwm: int
    acked: bool
    reused_up_to: int
    taken_back: list[int]

    @property
    def durable(self) -> bool:
        """A new finding of reused seqs, and what it takes back, must survive a power cut; confirmations need not."""
        return bool(self.taken_back)


def parse_ack(payload: bytes, stream_id: str) -> Ack:
    """The ingest's ack; ValueError (naming the cause) when it is malformed."""
    try:
        ack = json.loads(payload)
        event_ids = tuple(str(e) for e in ack.get("event_ids", ()))
        ours = ack.get("stream_id") == stream_id
        return Ack(event_ids, int(ack.get("seq_hwm", 0)) if ours else 0,
                   int(ack.get("seq_reused_up_to", 0)) if ours else 0)
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"malformed ack: {exc}") from exc


@dataclass
class Confirmations:
    """The bookkeeping between a PUBACK and the confirmation written to lane.db."""

    memory: int = 2000                                  # releases by the mark remembered for a take-back
    stream_id: str = ""                                 # lane.db's stream: a mark for another one says nothing
    hwm: int = 0                                        # the ingest's mark, as received
    hwm_written: int = 0
    last_seq: int = 0                                   # lane.db's last seq, as last read
    reused_up_to: int = 0
    reused_written: int = 0
    awaiting: dict[int, Awaiting] = field(default_factory=dict)          # seq -> row, until the ingest's ack
    seq_of_event: dict[str, int] = field(default_factory=dict)
    confirmed_ids: list[int] = field(default_factory=list)               # to write
    released: list[tuple[int, int]] = field(default_factory=list)        # (seq, row id) released by the mark
    confirmed_events: list[str] = field(default_factory=list)            # acked events not published here
    unconfirm: list[int] = field(default_factory=list)                   # row ids taken back
    acked: bool = False
    by_mark: deque[tuple[int, int]] = field(default_factory=deque)
    acked_puback_at: list[float] = field(default_factory=list)          # of rows acked since take_ack_waits

    def published(self, seq: int, row_id: int, event_id: str, now: float) -> None:
        """The broker took the row (end-to-end delivery): wait for the ingest, unless its mark is ahead already."""
        if seq > self.hwm or seq <= self.reused_up_to:
            self.awaiting[seq] = Awaiting(row_id, event_id, now)
            self.seq_of_event[event_id] = seq
        else:
            self._release(seq, row_id)

    def confirmed_by_broker(self, row_id: int) -> None:
        """Broker delivery: the PUBACK is the confirmation."""
        self.confirmed_ids.append(row_id)

    def needs_last_seq(self, ack: Ack) -> bool:
        """Whether the relay must read lane.db's last seq before `on_ack` (a mark beyond what was last read)."""
        return ack.seq_hwm > max(self.hwm, self.last_seq, self.reused_up_to)

    def on_ack(self, ack: Ack) -> list[Reuse]:
        """Confirm in memory what the ack says; returns findings of reused seqs (each already applied)."""
        findings = []
        if ack.reused_up_to > self.reused_up_to:
            findings.append(self._reused(ack.reused_up_to, "the ingest holds events of another copy of this "
                                         f"lane.db at seqs up to {ack.reused_up_to}"))
        if ack.seq_hwm > self.hwm:
            if ack.seq_hwm > max(self.last_seq, self.reused_up_to):
                findings.append(self._reused(ack.seq_hwm, f"the ingest holds seq {ack.seq_hwm} of this lane.db's "
                                             f"stream, which has written only {self.last_seq}"))
            self._release_up_to(ack.seq_hwm)
        for event_id in ack.event_ids:
            seq = self.seq_of_event.pop(event_id, None)
            done = self.awaiting.pop(seq, None) if seq is not None else None
            if done is not None:
                self.confirmed_ids.append(done.row_id)
                self.acked_puback_at.append(done.puback_at)
            elif seq is None and event_id:
                self.confirmed_events.append(event_id)
        self.acked = True
        return findings

    def take_ack_waits(self, now: float) -> list[float]:
        """Seconds from each PUBACK to the ack that confirmed its row, since the last call (for metrics)."""
        waits = [now - puback_at for puback_at in self.acked_puback_at]
        self.acked_puback_at.clear()
        return waits

    def late(self, now: float, timeout_s: float) -> list[int]:
        """Rows awaiting longer than `timeout_s`: forgotten here, to be published again (their row ids)."""
        cutoff = now - timeout_s
        late = [seq for seq, waiting in self.awaiting.items() if waiting.puback_at < cutoff]
        row_ids = []
        for seq in late:
            waiting = self.awaiting.pop(seq)
            self.seq_of_event.pop(waiting.event_id, None)
            row_ids.append(waiting.row_id)
        return row_ids

    def connection_lost(self) -> set[int]:
        """A drop may lose what the broker held: forget what awaits; returns the rows still being confirmed."""
        self.awaiting.clear()
        self.seq_of_event.clear()
        return set(self.confirmed_ids) | {row_id for _, row_id in self.released}

    def has_marks(self) -> bool:
        return bool(self.confirmed_ids or self.released or self.confirmed_events or self.acked or self.unconfirm
                    or self.hwm > self.hwm_written or self.reused_up_to > self.reused_written)

    def take_marks(self, limit: int) -> Marks:
        """The next batch to write, at most `limit` of each kind: one write must not hold up a sale for long."""
        ids, self.confirmed_ids = self.confirmed_ids[:limit], self.confirmed_ids[limit:]
        events, self.confirmed_events = self.confirmed_events[:limit], self.confirmed_events[limit:]
        released = [row_id for _, row_id in self.released[:limit]]
        del self.released[:limit]
        taken_back, self.unconfirm = self.unconfirm[:limit], self.unconfirm[limit:]
        acked, self.acked = self.acked, False
        return Marks([*ids, *released], events, self.hwm, acked, self.reused_up_to, taken_back)

    def written(self, marks: Marks) -> None:
        self.hwm_written = max(self.hwm_written, marks.hwm)
        self.reused_written = max(self.reused_written, marks.reused_up_to)

    def new_reuse_unwritten(self, marks: Marks) -> bool:
        """A newly found reuse is written durably: after a restart it could not be found again."""
        return marks.reused_up_to > self.reused_written or marks.durable

    def _release(self, seq: int, row_id: int) -> None:
        self.released.append((seq, row_id))
        self.by_mark.append((seq, row_id))
        while len(self.by_mark) > self.memory:
            self.by_mark.popleft()

    def _release_up_to(self, hwm: int) -> None:
        """Every awaiting seq up to `hwm` is confirmed; walk the range or the awaiting rows, whichever is shorter.

        Seqs another copy of lane.db used too are left to the event-id acks.
        """
        low = max(self.hwm, self.reused_up_to)
        span = range(low + 1, hwm + 1)
        seqs = span if len(span) <= 2 * len(self.awaiting) else [s for s in self.awaiting if low < s <= hwm]
        for seq in seqs:
            done = self.awaiting.pop(seq, None)
            if done is not None:
                self.seq_of_event.pop(done.event_id, None)
                self.acked_puback_at.append(done.puback_at)
                self._release(seq, done.row_id)
        self.hwm = hwm

    def _reused(self, up_to: int, evidence: str) -> Reuse:
        """Seqs up to `up_to` were written by two copies: confirm them by ID only, take back what the mark did."""
        self.reused_up_to = max(self.reused_up_to, up_to)
        doubtful = {row_id for seq, row_id in self.by_mark if seq <= up_to}
        if doubtful:
            self.by_mark = deque((s, r) for s, r in self.by_mark if s > up_to)
            self.released = [(s, r) for s, r in self.released if r not in doubtful]
            self.unconfirm.extend(sorted(doubtful))
        return Reuse(up_to, evidence, tuple(sorted(doubtful)))
