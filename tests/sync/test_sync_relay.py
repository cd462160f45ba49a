"""The outbox relay with an in-memory publisher and the fake clock, over a real lane.db: no broker, no sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.health import ComponentHealth, State
from agent.lane_db import open_sync_db
from agent.session.records.sales import record_sale
from agent.session.records.scans import record_scan
from agent.store import Database
from agent.sync import outbox
from agent.sync.relay import OutboxRelay
from simulators.doubles.clock import FakeClock
from simulators.doubles.fake_publisher import FakePublisher
from simulators.doubles.waiting import wait_until
from simulators.lanes.writer import sale, scan


@dataclass
class Rig:
    db: Database
    publisher: FakePublisher
    relay: OutboxRelay
    health: ComponentHealth
    clock: FakeClock

    @property
    def stream(self) -> str:
        return outbox.stream_id(self.db.reader())

    def states(self) -> dict[int, int]:
        """seq -> state (0 pending, 2 confirmed) as lane.db holds it."""
        return dict(self.db.reader().execute("SELECT seq, state FROM outbox ORDER BY seq").fetchall())


async def until(condition: Callable[[], bool], what: str) -> None:
    """Loop turns until `condition` holds: the relay and lane.db's writer thread do their part meanwhile."""
    await wait_until(condition, 5, 0.001)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    db = open_sync_db(tmp_path / "lane.db", "store-001", "lane-01")
    clock, health = FakeClock(), ComponentHealth("relay")
    relay = OutboxRelay(db, FakePublisher, window=4, confirm_timeout_s=30, clock=clock)
    publisher = relay.publisher
    task = asyncio.create_task(relay.run(health))
    try:
        yield Rig(db, publisher, relay, health, clock)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        db.close()


async def write_scans(rig: Rig, count: int) -> None:
    for n in range(count):
        await rig.db.write(record_scan, scan(n))
    rig.relay.wake()


async def test_nothing_is_published_while_disconnected_and_all_goes_in_seq_order_once_up(rig: Rig) -> None:
    await write_scans(rig, 3)
    for _ in range(20):
        await asyncio.sleep(0)
    assert rig.publisher.published == []
    rig.publisher.up()
    rig.relay.wake()
    await until(lambda: len(rig.publisher.published) == 3, "three publishes")
    assert rig.publisher.seqs == [1, 2, 3]


async def test_the_window_bounds_publishes_waiting_for_their_puback(rig: Rig) -> None:
    rig.publisher.up()
    await write_scans(rig, 10)
    await until(lambda: len(rig.publisher.published) == 4, "a full window")
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(rig.publisher.unacked) == 4, "never more in flight than the window"
    rig.publisher.puback()
    await until(lambda: len(rig.publisher.published) >= 7, "the window refilled")
    assert len(rig.publisher.unacked) <= 4


async def test_the_brokers_receive_maximum_caps_the_window(rig: Rig) -> None:
    rig.publisher.quota = 2
    rig.publisher.up()
    await write_scans(rig, 6)
    await until(lambda: len(rig.publisher.published) == 2, "two publishes")
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(rig.publisher.unacked) == 2


async def test_a_row_is_confirmed_by_the_ingests_event_id_ack_not_by_the_puback(rig: Rig) -> None:
    rig.publisher.up()
    await write_scans(rig, 2)
    await until(lambda: len(rig.publisher.published) == 2, "two publishes")
    rig.publisher.puback()
    await until(lambda: rig.relay.probe()["awaiting_confirmation"] == 2, "both awaiting the ingest")
    assert rig.states() == {1: 0, 2: 0}
    first = rig.publisher.published[0].payload["event_id"]
    rig.publisher.ack(rig.stream, event_ids=[first])
    await until(lambda: rig.states() == {1: 2, 2: 0}, "the first confirmed")


async def test_the_mark_confirms_rows_published_here_but_never_a_range(rig: Rig) -> None:
    rig.publisher.up()
    await write_scans(rig, 3)
    await until(lambda: len(rig.publisher.published) == 3, "three publishes")
    rig.publisher.puback(2)
    await until(lambda: rig.relay.probe()["awaiting_confirmation"] == 2, "two awaiting")
    rig.publisher.ack(rig.stream, seq_hwm=3)
    await until(lambda: rig.states()[2] == 2, "the mark confirmed seqs 1 and 2")
    assert rig.states() == {1: 2, 2: 2, 3: 0}, "seq 3 had no PUBACK yet: the mark alone does not confirm it"
    rig.publisher.puback()
    await until(lambda: rig.states()[3] == 2, "its PUBACK behind the mark confirms seq 3")


async def test_an_unconfirmed_row_is_sent_again_after_the_timeout_on_the_fake_clock(rig: Rig) -> None:
    rig.publisher.up()
    await write_scans(rig, 1)
    await until(lambda: len(rig.publisher.published) == 1, "one publish")
    rig.publisher.puback()
    await until(lambda: rig.relay.probe()["awaiting_confirmation"] == 1, "awaiting the ingest")
    rig.clock.advance(29)
    rig.relay.wake()
    due = rig.clock.monotonic() + rig.relay.confirm_timeout_s / 4
    await until(lambda: rig.relay._next_housekeeping >= due, "a housekeeping round at t + 29 s")
    assert len(rig.publisher.published) == 1, "not before the timeout"
    rig.clock.advance(10)            # past the timeout and the next housekeeping (every confirm_timeout_s / 4)
    rig.relay.wake()
    await until(lambda: len(rig.publisher.published) == 2, "sent again")
    assert rig.publisher.seqs == [1, 1] and rig.health.counters["resent_unconfirmed"] == 1


async def test_a_refused_publish_stays_pending_and_health_says_why(rig: Rig) -> None:
    rig.publisher.up()
    await write_scans(rig, 1)
    await until(lambda: len(rig.publisher.published) == 1, "one publish")
    rig.publisher.puback(rc=0x87)
    await until(lambda: rig.health.state is State.DEGRADED, "degraded")
    assert "0x87" in rig.health.reason and "ACL" in rig.health.reason
    assert rig.states() == {1: 0}


async def test_a_publish_the_client_cannot_take_now_is_tried_again(rig: Rig) -> None:
    rig.publisher.fail_next(2)
    rig.publisher.up()
    await write_scans(rig, 2)
    for _ in range(3):
        rig.relay.wake()
        await asyncio.sleep(0.01)
    await until(lambda: len(rig.publisher.published) == 2, "both once the client had room")
    assert rig.publisher.seqs == [1, 2]


async def test_a_packet_over_the_brokers_limit_is_skipped_named_and_the_rest_go_on(rig: Rig) -> None:
    rig.publisher.max_packet_size = 1500
    rig.publisher.up()
    big = {**sale(1), "lines": [{"gtin": "0" * 14, "name": "x" * 50}] * 40}
    await rig.db.write(record_sale, big)
    await write_scans(rig, 2)
    await until(lambda: len(rig.publisher.published) == 2, "the two scans")
    assert rig.publisher.seqs == [2, 3]
    assert rig.health.counters["publish_too_large"] == 1 and "seq 1" in rig.health.reason
    assert rig.states()[1] == 0, "the sale stays in the outbox"


async def test_a_dropped_link_sends_again_what_was_not_confirmed(rig: Rig) -> None:
    rig.publisher.up()
    await write_scans(rig, 2)
    await until(lambda: len(rig.publisher.published) == 2, "two publishes")
    rig.publisher.puback()
    rig.publisher.ack(rig.stream, event_ids=[rig.publisher.published[0].payload["event_id"]])
    await until(lambda: rig.states()[1] == 2, "the first confirmed")
    rig.publisher.drop()
    rig.publisher.up()
    rig.relay.wake()
    await until(lambda: len(rig.publisher.published) == 3, "the unconfirmed one again")
    assert rig.publisher.seqs == [1, 2, 2]


async def test_max_publish_rate_holds_a_backlog_to_the_rate_with_one_seconds_burst(tmp_path: Path) -> None:
    db = open_sync_db(tmp_path / "lane.db", "store-001", "lane-01")
    clock = FakeClock()
    relay = OutboxRelay(db, FakePublisher, window=100, max_publish_rate=5, clock=clock)
    publisher = relay.publisher
    task = asyncio.create_task(relay.run(ComponentHealth("relay")))
    try:
        for n in range(12):
            await db.write(record_scan, scan(n))
        publisher.up()
        relay.wake()
        await until(lambda: len(publisher.published) == 5, "one second's burst")
        for _ in range(50):   # the relay has turns to publish more, and must not
            await asyncio.sleep(0)
        assert len(publisher.published) == 5
        clock.advance(1.0)    # five more tokens
        relay.wake()
        await until(lambda: len(publisher.published) == 10, "the next second's five")
        clock.advance(0.4)    # two more
        relay.wake()
        await until(lambda: len(publisher.published) == 12, "the last two")
        assert publisher.seqs == list(range(1, 13))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        db.close()
