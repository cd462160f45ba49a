"""The fleet simulator at a small N: every lane's events reach the ingest once each, from seq 1 to the last."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from agent.lane_db import open_sync_db
from agent.sync import outbox
from agent.sync.settings import MqttSection
from simulators.cloud.broker import mosquitto_path
from simulators.fleet.cloud import local_cloud
from simulators.fleet.fleet import Fleet, FleetPlan, client_id
from simulators.fleet.ingest_view import held_by_stream
from simulators.fleet.stats import FleetStats, percentile
from simulators.fleet.traffic import Rate

needs_broker = pytest.mark.skipif(mosquitto_path() is None, reason="mosquitto is not installed "
                                  "(apt-get install mosquitto, or run ./.ci/bootstrap test)")


def lane_streams(root: Path) -> dict[str, int]:
    """stream_id -> last seq, read from every lane.db the fleet left under `root`."""
    streams = {}
    for path in sorted(root.glob("lanes/*/*/lane.db")):
        db = open_sync_db(path, path.parent.parent.name, path.parent.name)
        try:
            streams[outbox.stream_id(db.reader())] = outbox.seqs_in_use(db.reader())[0]
        finally:
            db.close()
    return streams


@needs_broker
@pytest.mark.broker
@pytest.mark.timeout(120)
def test_the_command_runs_a_fleet_and_every_stream_arrives_gap_free(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agent", "simulate", "fleet", "--lanes", "12", "--lanes-per-store", "4",
         "--duration", "8", "--sales-per-minute", "20", "--scans-per-sale", "5", "--window", "2",
         "--ingests", "2", "--state-dir", str(tmp_path)], capture_output=True, text=True, timeout=100)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("fleet: OK")
    assert "lanes 12/12 connected" in result.stdout
    # Checked again here from the files themselves, not from the fleet's own verdict.
    streams = lane_streams(tmp_path)
    held = held_by_stream(str(tmp_path / "cloud" / "ingest.db"))
    assert len(streams) == 12
    assert sum(streams.values()) > 12 * 8   # each lane at least one visit's worth of events
    for stream, last in streams.items():
        counts = held[stream]
        assert (counts.rows, counts.distinct_seqs, counts.highest_seq) == (last, last, last)


@needs_broker
@pytest.mark.broker
@pytest.mark.timeout(90)
async def test_the_gap_check_names_a_lane_whose_event_the_ingest_lacks(tmp_path: Path) -> None:
    with local_cloud(tmp_path / "cloud") as cloud:
        fleet = Fleet(FleetPlan(lanes=3, state_root=tmp_path / "lanes", rate=Rate(30, 3)),
                      MqttSection(host="127.0.0.1", port=cloud.broker.port))
        try:
            await fleet.open()
            await fleet.wait_connected(10)
            fleet.start_shopping()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(3):
                    await asyncio.Event().wait()   # three seconds of shopping
            await fleet.stop_shopping()
            await fleet.drain(30, poll_s=0.1)
        finally:
            await fleet.close()
    assert fleet.problems(held_by_stream(cloud.database)) == []
    lane = fleet.lanes[1]
    with contextlib.closing(sqlite3.connect(cloud.database)) as conn, conn:
        conn.execute("DELETE FROM events WHERE stream_id = ? AND seq = 2", (lane.stream_id,))
    problems = fleet.problems(held_by_stream(cloud.database))
    assert len(problems) == 1 and problems[0].startswith(f"{lane.store_id}/{lane.lane_id}: wrote seqs 1..")


def test_lanes_are_grouped_in_stores_with_client_ids_a_cloud_broker_accepts(tmp_path: Path) -> None:
    identities = FleetPlan(lanes=10, state_root=tmp_path, lanes_per_store=4).identities()
    assert identities[:5] == [("store-0001", "lane-01"), ("store-0001", "lane-02"), ("store-0001", "lane-03"),
                              ("store-0001", "lane-04"), ("store-0002", "lane-01")]
    ids = {client_id(store, lane) for store, lane in identities}
    assert len(ids) == 10 and max(len(i.encode()) for i in ids) <= 128   # AWS IoT Core: at most 128 bytes


def test_the_default_rate_is_one_sale_of_twenty_scans_per_lane_per_minute() -> None:
    rate = Rate()
    assert (rate.period_s, rate.events_per_sale) == (60.0, 23)
    assert rate.events_per_second(600) == pytest.approx(230.0)


def test_percentiles_are_nearest_rank_and_the_warm_up_is_left_out() -> None:
    assert percentile([], 99) is None
    assert percentile([0.3, 0.1, 0.2], 50) == 0.2
    assert percentile([float(n) for n in range(1, 101)], 99) == 99.0
    stats = FleetStats(measure_from=10.0)
    stats.add(5.0, 4, [9.0, 9.0])          # warm-up: shown in its window, not in the totals
    stats.add(12.0, 3, [0.1, 0.2, 0.3])
    assert (stats.recorded, stats.confirmed, stats.p(50)) == (3, 3, 0.2)
    window = stats.close_window(elapsed_s=12, seconds=5, lanes=2, connected=2, backlog=0)
    assert (window.recorded, window.confirmed, window.p99_s) == (7, 5, 9.0)
