"""Event IDs are RFC 9562 UUIDv7: valid, unique, and ordered by time as text (the property indexes rely on)."""

from __future__ import annotations

import time
import uuid

from agent.sync.event_ids import new_event_id


def test_an_event_id_is_a_version_7_rfc_uuid_carrying_the_current_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    text = new_event_id()
    after = time.time_ns() // 1_000_000
    parsed = uuid.UUID(text)
    assert str(parsed) == text and len(text) == 36
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert before <= parsed.int >> 80 <= after


def test_ids_of_later_milliseconds_sort_after_earlier_ones_as_text() -> None:
    ids = []
    for _ in range(5):
        ids.append(new_event_id())
        time.sleep(0.002)   # the behaviour under test: IDs made in later milliseconds
    assert ids == sorted(ids)


def test_ids_are_unique_even_within_one_millisecond() -> None:
    ids = [new_event_id() for _ in range(100_000)]
    assert len(set(ids)) == len(ids)
    assert len({i[:13] for i in ids}) < len(ids)   # many shared a millisecond, and still differ
