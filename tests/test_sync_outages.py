"""Broker restarts (persistence off, so the broker forgets everything) and a faulty network lose nothing."""

from __future__ import annotations

import asyncio
import resource
from pathlib import Path

import pytest

from simulators.cloud.broker import MosquittoBroker
from simulators.cloud.faultproxy import FaultProxy
from simulators.fixtures.sync import IngestProcess
from simulators.lanes.sync import SyncLane, mqtt_section, running_lane
from simulators.trials.sync_checks import assert_all_delivered_once, stream

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def test_broker_killed_and_restarted_ten_times_during_a_stream_loses_nothing(
        mqtt_broker: MosquittoBroker, ingest: IngestProcess, tmp_path: Path) -> None:
    async with running_lane(tmp_path, mqtt_section(mqtt_broker.port)) as lane:
        stop = asyncio.Event()
        writer = asyncio.create_task(stream(lane, stop))
        for _ in range(10):   # the behaviour under test: the broker up 0.3 s, down 0.2 s, ten times
            await asyncio.sleep(0.3)
            mqtt_broker.kill()
            await asyncio.sleep(0.2)
            mqtt_broker.start()
        stop.set()
        assert await asyncio.wait_for(writer, 10) > 100
        await lane.wait_drained(60)
    assert_all_delivered_once(tmp_path / "lane.db", ingest)


async def run_with_fault(tmp_path: Path, broker: MosquittoBroker, fault: str, hold_s: float,
                         keepalive_s: int = 5) -> SyncLane:
    proxy = FaultProxy(broker.port)
    await proxy.start()
    try:
        # A bound on the whole run: a hang fails here with the coroutine's stack, not at pytest's timeout
        # (which shows only idle threads: seen once in CI, under load, not reproduced since).
        section = mqtt_section(proxy.port, keepalive_s=keepalive_s)
        async with asyncio.timeout(hold_s + 80), running_lane(tmp_path, section) as lane:
            await asyncio.wait_for(lane.publisher.connected.wait(), 10)
            stop = asyncio.Event()
            writer = asyncio.create_task(stream(lane, stop))
            await asyncio.sleep(0.5)   # the stream runs a while before the fault, and after it
            rss_before = rss_mb()
            await apply_fault(proxy, fault, hold_s, lane)
            await asyncio.sleep(0.5)
            stop.set()
            await asyncio.wait_for(writer, 10)
            await lane.wait_drained(60)
            assert rss_mb() - rss_before < 64, "memory grew during the fault"
            return lane
    finally:
        await proxy.close()


async def apply_fault(proxy: FaultProxy, fault: str, hold_s: float, lane: SyncLane) -> None:
    if fault == "reset":
        for _ in range(3):
            await asyncio.sleep(hold_s)
            proxy.reset()
        return
    setattr(proxy, {"blackhole": "blackhole", "latency": "latency_s", "slice": "slice"}[fault],
            2.0 if fault == "latency" else True)
    deadline = asyncio.get_running_loop().time() + hold_s
    while asyncio.get_running_loop().time() < deadline:
        assert len(lane.relay._inflight) <= lane.relay.window   # the window bounds what is held in memory
        await asyncio.sleep(0.1)
    setattr(proxy, {"blackhole": "blackhole", "latency": "latency_s", "slice": "slice"}[fault],
            0.0 if fault == "latency" else False)


@pytest.mark.parametrize(("fault", "hold_s"), [("blackhole", 1.0), ("reset", 0.3), ("latency", 3.0), ("slice", 2.0)])
async def test_a_faulty_link_loses_nothing_and_duplicates_nothing(
        mqtt_broker: MosquittoBroker, ingest: IngestProcess, tmp_path: Path, fault: str, hold_s: float) -> None:
    await run_with_fault(tmp_path, mqtt_broker, fault, hold_s)
    assert_all_delivered_once(tmp_path / "lane.db", ingest)


@pytest.mark.slow
async def test_a_30_s_half_open_link_is_detected_by_keepalive_and_loses_nothing(
        mqtt_broker: MosquittoBroker, ingest: IngestProcess, tmp_path: Path) -> None:
    lane = await run_with_fault(tmp_path, mqtt_broker, "blackhole", 30.0, keepalive_s=5)
    assert lane.mqtt_health.counters["connects"] >= 2, "the dead link was never noticed"
    assert_all_delivered_once(tmp_path / "lane.db", ingest)
