"""The reference ingest's acks: a restarted ingest takes its seq high-water mark from its database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.session.records.sales import record_sale
from simulators.cloud.broker import MosquittoBroker
from simulators.cloud.ingest_sqlite import LaneTracker, open_db
from simulators.doubles.waiting import wait_until
from simulators.fixtures.sync import IngestProcess
from simulators.lanes.sync import SyncLane, mqtt_section, running_lane
from simulators.lanes.writer import sale
from simulators.trials.sync_checks import watch

pytestmark = [pytest.mark.timeout(60)]


async def sell(lane: SyncLane, numbers: range) -> None:
    for n in numbers:
        await lane.db.write(record_sale, sale(n))
        lane.relay.wake()
    await lane.wait_drained(15)


@pytest.mark.broker
async def test_an_ingest_restarted_mid_stream_acks_by_its_mark_again(mqtt_broker: MosquittoBroker,
                                                                     ingest: IngestProcess, tmp_path: Path) -> None:
    client, seen = watch(mqtt_broker, "omo/v1/store-001/lane-01/acks")
    try:
        async with running_lane(tmp_path, mqtt_section(mqtt_broker.port)) as lane:
            await sell(lane, range(1, 21))
            ingest.stop()   # SIGKILL: its marks were in memory only
            ingest.start()
            restarted = len(seen)
            await sell(lane, range(21, 41))
            await wait_until(lambda: json.loads(seen[-1][1])["seq_hwm"] == 40, 10)
    finally:
        client.loop_stop()
        client.disconnect()
    after = [json.loads(payload) for _, payload, _ in seen[restarted:]]
    # Each new event is covered by the mark, so no ack after the restart needs to name one.
    assert [ack["event_ids"] for ack in after if ack["event_ids"]] == []
    assert ingest.report() == {"events": 40, "max_seq": 40, "gaps": []}


def test_the_mark_skips_resent_seqs_and_a_database_with_a_gap_rebuilds_it_up_to_the_gap(tmp_path: Path) -> None:
    tracker = LaneTracker()
    tracker.add(1, 3)
    tracker.add(2, 2)   # sent again: at or below the mark
    tracker.add(5, 5)
    assert (tracker.hwm, tracker.above) == (3, {5})
    conn = open_db(tmp_path / "ingest.db")
    stream = ("store-001", "lane-01", "stream-a")
    for seq, seq_end in ((1, 1), (2, 4), (6, 6), (7, 7)):   # 2..4: a shed range in one event; 5 missing
        conn.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?, 'omo.scan/1', '{}', 0, ?)",
                     (f"e{seq}", *stream[:2], seq, seq_end, stream[2]))
    rebuilt = LaneTracker.from_db(conn, stream)
    assert (rebuilt.hwm, rebuilt.above) == (4, {6, 7})
    rebuilt.add(5, 5)
    assert (rebuilt.hwm, rebuilt.above) == (7, set())
    conn.close()
