"""The bagging-area scale at a real lane: the agent (agent.app.start) on real files, a pty scanner and an SCP-01
scale simulator on a pty whose platter follows scale_physics (settling, noise). Each disagreement calls staff
with its reason and weights; a scale outage degrades to no weight check and never blocks the sale; a product
without a catalog weight is learned and then checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from agent import app
from agent.config import load
from simulators.cloud.store_catalog import BATTERIES, ONIGIRI, TEA
from simulators.devices.scale import VirtualScale
from simulators.devices.scale_physics import ScalePhysics
from simulators.devices.serial_pty import VirtualSerialScanner
from simulators.doubles.ports import free_port
from simulators.doubles.waiting import wait_until
from simulators.fixtures.daemon import render_toml
from simulators.fixtures.session import store_state

pytestmark = pytest.mark.timeout(120)
TEA_MG, BATTERIES_MG = 530_000, 95_000


class Rig:
    def __init__(self, work: Path) -> None:
        self.work = work
        store_state(work)
        self.scanner = VirtualSerialScanner("handheld")
        self.scale = VirtualScale("scp01", physics=ScalePhysics(seed=7, settle_s=0.3, noise_mg=300,
                                                                started_at=time.monotonic()))

    @contextlib.asynccontextmanager
    async def lane(self, **bagging: Any) -> AsyncIterator[app.Lane]:
        path = self.work / "agent.toml"
        scale = "{ " + ", ".join(f'{k} = {json.dumps(v)}' for k, v in
                                 {"driver": "scp01", **self.scale.options, "rate_hz": 20}.items()) + " }"
        settings = {"enabled": True, "place_timeout_s": 1.0, "call_after_s": 1.0, "motion_timeout_s": 1.5,
                    "learn_min_samples": 3, **bagging}
        path.write_text(render_toml({
            "agent": {"store_id": "store-001", "lane_id": "lane-01", "state_dir": str(self.work / "state"),
                      "allow_simulators": True},
            "api": {"listen": f"127.0.0.1:{free_port()}"},
            "payment": {"adapter": "simulated"},
            "bagging": settings,
            "devices": [{"name": "handheld", "driver": "serial", "port": self.scanner.path}],
        }).replace("[bagging]\n", f"[bagging]\nscale = {scale}\n"))
        lane = await app.start(load(path))
        try:
            await wait_until(lambda: lane.health.component("device:handheld").state == "ok"
                             and lane.health.component("scale").state == "ok", 15)
            yield lane
        finally:
            await app.stop(lane)

    async def scan(self, lane: app.Lane, code: str, units: int) -> None:
        """Scan `code` and wait until the basket holds `units` of it."""
        self.scanner.scan(code, aim="]E0")
        await wait_until(lambda: sum(line.quantity for line in lane.session.session.active_lines
                                     if line.gtin.endswith(code)) == units, 10)

    def put(self, mass_mg: int) -> None:
        self.scale.place(mass_mg)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    rig = Rig(tmp_path)
    yield rig
    rig.scanner.close()
    rig.scale.close()


async def called(lane: app.Lane, reason: str, timeout_s: float = 10) -> dict[str, Any]:
    await wait_until(lambda: any(i.reason == reason for i in lane.session.session.pending), timeout_s)
    call = next(i for i in lane.session.session.pending if i.reason == reason)
    assert lane.session.session.state.value == "needs_attendant"
    return dict(call.weights)


async def settled(lane: app.Lane, bagged: int) -> None:
    """Wait until the watch has accepted `bagged` units into the bag."""
    assert lane.bagging is not None
    await wait_until(lambda: lane.bagging is not None and lane.bagging.bag.bagged == bagged, 10)


async def test_the_right_item_is_accepted_and_an_extra_one_is_an_unexpected_item(rig: Rig) -> None:
    async with rig.lane() as lane:
        await rig.scan(lane, TEA, 1)
        rig.put(TEA_MG + 4_000)                  # within the catalog's 15 g
        await settled(lane, 1)
        assert lane.session.session.pending == ()
        rig.put(180_000)                         # something nobody scanned
        weights = await called(lane, "unexpected_item")
        assert weights["expected_mg"] == 0 and abs(weights["measured_mg"] - 180_000) <= 2_000
        assert weights["tolerance_mg"] == 5_000 and abs(weights["bag_mg"] - 714_000) <= 2_000
        assert lane.attendant is not None
        status_call = lane.attendant.status.build()["interventions"][0]
        assert status_call["reason"] == "unexpected_item" and status_call["detail"]["weights"] == weights
        assert not status_call["remote_allowed"]          # someone has to look at the bag


async def test_a_cheap_item_scanned_and_a_heavier_one_bagged_is_an_unexpected_item(rig: Rig) -> None:
    async with rig.lane() as lane:
        await rig.scan(lane, BATTERIES, 1)
        rig.put(TEA_MG)                          # the tea goes in the bag instead of the batteries
        weights = await called(lane, "unexpected_item")
        assert weights["expected_mg"] == BATTERIES_MG and abs(weights["measured_mg"] - TEA_MG) <= 2_000


async def test_an_item_not_placed_is_prompted_then_called(rig: Rig) -> None:
    async with rig.lane() as lane:
        await rig.scan(lane, TEA, 1)
        await wait_until(lambda: any(p.code == "place_item" for p in lane.session.session.prompts), 5)
        weights = await called(lane, "item_not_bagged")
        assert weights["expected_mg"] == TEA_MG and abs(weights["measured_mg"]) <= 2_000


async def test_an_item_taken_back_out_is_item_removed(rig: Rig) -> None:
    async with rig.lane() as lane:
        await rig.scan(lane, TEA, 1)
        rig.put(TEA_MG)
        await settled(lane, 1)
        rig.scale.lift(TEA_MG)
        weights = await called(lane, "item_removed")
        assert abs(weights["measured_mg"] + TEA_MG) <= 2_000


async def _skip(lane: app.Lane) -> tuple[int, dict[str, Any]]:
    """The kiosk's "skip bagging" button: POST /v1/session/skip-bagging on the lane's local API."""
    async with aiohttp.ClientSession() as http, http.post(
            f"http://{lane.config.api.listen}/v1/session/skip-bagging") as response:
        return response.status, await response.json()


async def test_skip_bagging_calls_above_skip_max_and_is_allowed_below(rig: Rig) -> None:
    async with rig.lane(skip_max_g=100) as lane:
        await rig.scan(lane, BATTERIES, 1)
        assert (await _skip(lane))[0] == 200     # 95 g: allowed
        status, body = await _skip(lane)         # nothing waits to be bagged now
        assert status == 409 and body["reason"] == "nothing_to_skip"
        await rig.scan(lane, TEA, 1)
        assert (await _skip(lane))[0] == 200     # 530 g: staff look at it
        weights = await called(lane, "skip_bagging")
        assert weights["expected_mg"] == TEA_MG
        assert [i.reason for i in lane.session.session.interventions] == ["skip_bagging"]


async def test_a_scale_outage_degrades_to_no_weight_check_and_never_blocks_the_sale(rig: Rig) -> None:
    async with rig.lane() as lane:
        await rig.scan(lane, TEA, 1)
        rig.scale.unplug()
        await wait_until(lambda: lane.health.component("scale").state == "degraded", 10)
        assert "no weight check" in lane.health.component("scale").reason
        await rig.scan(lane, BATTERIES, 1)       # nothing is ever placed
        await rig.scan(lane, TEA, 2)
        await asyncio.sleep(3.0)                         # past place_timeout_s + call_after_s
        assert lane.session.session.pending == () and lane.session.session.state.value == "scanning"
        rig.scale.replug()
        await wait_until(lambda: lane.health.component("scale").state == "ok", 10)
        await asyncio.sleep(1.0)
        assert lane.session.session.pending == ()   # what went unchecked is not called afterwards


async def test_a_scale_in_motion_too_long_degrades_without_calling(rig: Rig) -> None:
    async with rig.lane() as lane:
        await rig.scan(lane, TEA, 1)
        rig.scale.vibrate(4.0, 50_000)           # a trolley leaning on the bagging area
        await wait_until(lambda: lane.health.component("scale").state == "degraded", 10)
        assert "not settled" in lane.health.component("scale").reason
        await wait_until(lambda: lane.health.component("scale").state == "ok", 10)
        assert lane.session.session.pending == ()


async def test_a_weight_the_catalog_lacks_is_learned_then_checked(rig: Rig) -> None:
    async with rig.lane() as lane:
        for unit, mass in enumerate((112_000, 108_000, 110_000), start=1):
            await rig.scan(lane, ONIGIRI, unit)
            rig.put(mass)
            await settled(lane, unit)
        assert lane.session.session.pending == ()
        row = lane.lane_db.reader().execute("SELECT weight_mg, samples FROM learned_weights").fetchone()
        assert row is not None and abs(row[0] - 110_000) <= 2_000 and row[1] == 3
        events = [json.loads(p) for (p,) in lane.lane_db.reader().execute(
            "SELECT payload FROM outbox WHERE schema = 'omo.weights/1'")]
        assert len(events) == 1 and events[0]["gtin"].endswith(ONIGIRI)
        await rig.scan(lane, ONIGIRI, 4)
        rig.put(300_000)                         # not an onigiri any more
        weights = await called(lane, "unexpected_item")
        assert abs(weights["expected_mg"] - 110_000) <= 2_000
