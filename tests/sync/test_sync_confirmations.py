"""The relay's acknowledgement bookkeeping (pure): tables of PUBACKs and acks, and what each confirms."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent.sync.confirmations import Ack, Confirmations, parse_ack

STREAM = "s-1"


def book_with(published: list[int], *, last_seq: int = 100, hwm: int = 0) -> Confirmations:
    """Rows with seq n, row id 1000 + n and event ID e-n, PUBACKed at t = n."""
    book = Confirmations(memory=50, last_seq=last_seq, hwm=hwm)
    for seq in published:
        book.published(seq, 1000 + seq, f"e-{seq}", float(seq))
    return book


def ack(*events: int, hwm: int = 0, reused: int = 0) -> Ack:
    return Ack(tuple(f"e-{n}" for n in events), hwm, reused)


@pytest.mark.parametrize(("published", "acks", "confirmed_rows", "confirmed_events", "still_awaiting"), [
    ([1, 2, 3], [ack(2)], [1002], [], [1, 3]),
    ([1, 2, 3], [ack(hwm=2)], [1001, 1002], [], [3]),
    ([1, 2, 3], [ack(hwm=3), ack(3)], [1001, 1002, 1003], ["e-3"], []),   # named after the mark: by ID too
    ([1, 2], [ack(7)], [], ["e-7"], [1, 2]),                      # an event sent before a restart: by its ID
    ([5, 6], [ack(hwm=3)], [], [], [5, 6]),                       # a mark below them confirms nothing of them
    ([], [ack(hwm=4)], [], [], []),                               # a mark confirms only rows published here
], ids=["event-id", "mark", "mark-then-id", "unknown-event", "mark-below", "mark-without-rows"])
def test_what_an_ack_confirms(published: list[int], acks: list[Ack], confirmed_rows: list[int],
                              confirmed_events: list[str], still_awaiting: list[int]) -> None:
    book = book_with(published)
    for one in acks:
        assert book.on_ack(one) == []
    marks = book.take_marks(100)
    assert sorted(marks.row_ids) == confirmed_rows and marks.event_ids == confirmed_events
    assert sorted(book.awaiting) == still_awaiting and marks.acked


def test_a_puback_behind_the_mark_is_released_at_once() -> None:
    book = book_with([], hwm=10)
    book.published(9, 1009, "e-9", 1.0)
    assert book.take_marks(10).row_ids == [1009] and not book.awaiting


@pytest.mark.parametrize(("ack_in", "evidence", "reused"), [
    (ack(hwm=150), "which has written only 100", 150),                   # the ingest is ahead of this file
    (ack(reused=40), "another copy of this lane.db", 40),                 # the ingest says two copies wrote
])
def test_seqs_two_copies_wrote_are_found_and_confirmed_by_id_only(ack_in: Ack, evidence: str, reused: int) -> None:
    book = book_with([])
    [finding] = book.on_ack(ack_in)
    assert evidence in finding.evidence and finding.up_to == reused == book.reused_up_to
    book.published(30, 1030, "e-30", 1.0)
    book.on_ack(ack(hwm=35) if reused == 40 else ack())
    assert 30 in book.awaiting, "a seq two copies used is not confirmed by the mark"
    book.on_ack(ack(30))
    assert 1030 in book.take_marks(10).row_ids


def test_a_reuse_takes_back_what_the_mark_confirmed_there_lately() -> None:
    book = book_with([1, 2, 3, 4])
    book.on_ack(ack(hwm=4))
    [finding] = book.on_ack(ack(reused=2))
    assert finding.taken_back == (1001, 1002)
    marks = book.take_marks(10)
    assert marks.taken_back == [1001, 1002] and sorted(marks.row_ids) == [1003, 1004] and marks.durable
    assert book.new_reuse_unwritten(marks)


@pytest.mark.parametrize(("now", "timeout", "late"), [(10.0, 30.0, []), (32.5, 30.0, [1001, 1002]),
                                                      (34.0, 30.0, [1001, 1002, 1003])])
def test_rows_unconfirmed_past_the_timeout_are_sent_again(now: float, timeout: float, late: list[int]) -> None:
    book = book_with([1, 2, 3])                       # PUBACKed at t = 1, 2, 3
    assert book.late(now, timeout) == late
    assert sorted(1000 + s for s in book.awaiting) == sorted({1001, 1002, 1003} - set(late))


def test_a_lost_connection_forgets_what_awaits_but_keeps_what_is_confirmed() -> None:
    book = book_with([1, 2, 3])
    book.on_ack(ack(1))
    assert book.connection_lost() == {1001} and not book.awaiting


def test_marks_are_written_in_bounded_batches() -> None:
    book = book_with(list(range(1, 26)))
    book.on_ack(ack(hwm=25))
    assert len(book.take_marks(10).row_ids) == 10 and len(book.take_marks(10).row_ids) == 10
    assert book.has_marks() and len(book.take_marks(10).row_ids) == 5


@pytest.mark.parametrize(("payload", "expected"), [
    ({"schema": "omo.ack/1", "event_ids": ["a"], "stream_id": STREAM, "seq_hwm": 5}, Ack(("a",), 5, 0)),
    ({"event_ids": [], "stream_id": "other", "seq_hwm": 9, "seq_reused_up_to": 3}, Ack((), 0, 0)),
    ({"stream_id": STREAM, "seq_reused_up_to": 7}, Ack((), 0, 7)),
])
def test_acks_are_read_for_this_stream_only(payload: dict[str, Any], expected: Ack) -> None:
    assert parse_ack(json.dumps(payload).encode(), STREAM) == expected


@pytest.mark.parametrize("payload", [b"not json", b"[1, 2]", b'{"seq_hwm": "x", "stream_id": "s-1"}'])
def test_a_malformed_ack_is_refused_with_its_cause(payload: bytes) -> None:
    with pytest.raises(ValueError, match="malformed ack"):
        parse_ack(payload, STREAM)


def test_each_acked_row_reports_its_wait_from_the_puback_once() -> None:
    book = book_with([1, 2, 3])                 # PUBACKed at t = 1, 2, 3
    book.on_ack(ack(2))
    book.on_ack(ack(hwm=1))
    assert book.take_ack_waits(now=10.0) == [8.0, 9.0]   # by event ID, then by the mark
    assert book.take_ack_waits(now=11.0) == []
    book.on_ack(ack(7))                         # an event not published here has no wait to report
    assert book.take_ack_waits(now=12.0) == []
