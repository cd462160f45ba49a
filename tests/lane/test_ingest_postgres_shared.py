"""Two reference ingest processes on one shared subscription into PostgreSQL; one is killed mid-stream."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import psycopg
import pytest

from agent.sync import outbox
from simulators.cloud.broker import MosquittoBroker
from simulators.cloud.ingest_postgres import check, lane_marks, stored_by
from simulators.doubles.waiting import wait_until
from simulators.fixtures.sync import LANES, IngestProcess
from simulators.lanes.sync import SyncLane, mqtt_section, running_lane
from simulators.trials.sync_checks import stream

pytestmark = [pytest.mark.broker, pytest.mark.timeout(180)]


def held(dsn: str) -> int:
    return sum(report["events"] for report in check(dsn).values())


def sales_held(dsn: str, store: str, lane: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT event_id FROM events WHERE schema = 'omo.sale/1' AND store_id = %s "
                            "AND lane_id = %s", (store, lane)).fetchall()
    return [row[0] for row in rows]


async def test_two_ingests_share_the_lanes_and_one_killed_mid_stream_loses_and_doubles_nothing(
        mqtt_broker: MosquittoBroker, postgres_dsn: str, tmp_path: Path) -> None:
    ingests = [IngestProcess(mqtt_broker, postgres_dsn, client_id=f"ingest-{n}") for n in (1, 2)]
    for ingest in ingests:
        ingest.start()
    stop = asyncio.Event()
    try:
        async with contextlib.AsyncExitStack() as stack:
            lanes: list[SyncLane] = [
                await stack.enter_async_context(running_lane(
                    tmp_path / f"{store}-{lane}", mqtt_section(mqtt_broker.port, client_id=f"omo-edge-{store}-{lane}"),
                    store_id=store, lane_id=lane))
                for store, lane in LANES]
            streams = [asyncio.create_task(stream(lane, stop)) for lane in lanes]
            await wait_until(lambda: held(postgres_dsn) >= 150, 30)
            assert stored_by(postgres_dsn).get("ingest-1", (0, 0))[0] > 0, "the first ingest took no share"
            # Hung, then dead: the broker goes on handing it its share, which the SIGKILL then loses.
            first = ingests[0].process
            assert first is not None
            os.kill(first.pid, signal.SIGSTOP)
            await wait_until(lambda: sum(len(lane.relay.book.awaiting) for lane in lanes) >= 40, 30)
            ingests[0].stop()   # SIGKILL
            killed_at = held(postgres_dsn)
            await wait_until(lambda: held(postgres_dsn) >= killed_at + 150, 30)
            stop.set()
            await asyncio.gather(*streams)
            for lane in lanes:
                await lane.wait_drained(60)   # every row confirmed by the ingest left standing
            assert sum(lane.relay_health.counters.get("resent_unconfirmed", 0) for lane in lanes) > 0
            for (store, lane_id), lane in zip(LANES, lanes, strict=True):
                reader = lane.db.reader()
                last_seq, stream_id = outbox.seqs_in_use(reader)[0], outbox.stream_id(reader)
                committed = {row[0] for row in reader.execute("SELECT event_id FROM sales")}
                held_sales = sales_held(postgres_dsn, store, lane_id)
                assert len(held_sales) == len(set(held_sales)) and set(held_sales) == committed
                assert check(postgres_dsn)[(store, lane_id, stream_id)] == {
                    "events": last_seq, "max_seq": last_seq, "gaps": []}
                assert lane_marks(postgres_dsn)[(store, lane_id, stream_id)] == (last_seq, 0)
                # The lane heard the mark reach its last seq (from whichever ingest committed last).
                await wait_until(lambda lane=lane, last=last_seq: lane.relay.book.hwm == last, 15)
    finally:
        stop.set()
        for ingest in ingests:
            ingest.stop()
