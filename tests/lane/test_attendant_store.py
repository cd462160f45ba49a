"""A whole store: eight real lanes (agent.app.start, each on its own files with a pty scanner), the attendant
station and one real mosquitto, with the staff page in Debian's Chromium. What a member of staff sees and taps
is what reaches the lanes: a beer on lane 3 approved from its tile, and a call that outlives the store broker
being killed with SIGKILL, then decided once."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser
from test_kiosk_harness import needs_chromium
from test_station_page import browser, tablet  # noqa: F401 - `browser` is a fixture used by name

from agent import app
from simulators.cloud.broker import MosquittoBroker
from simulators.cloud.store_catalog import BEER, NOT_IN_CATALOG
from simulators.doubles.waiting import wait_until
from simulators.lanes.attendant_rig import Rig
from simulators.lanes.station import StationKit, running_station

pytestmark = [needs_chromium, pytest.mark.broker, pytest.mark.timeout(240)]
LANES = [f"lane-{n:02d}" for n in range(1, 9)]


@contextlib.asynccontextmanager
async def store(tmp_path: Path, broker: MosquittoBroker) -> AsyncIterator[tuple[StationKit, dict[str, app.Lane],
                                                                               dict[str, Rig]]]:
    """The station and eight lanes; lane 3's store lets an age check be approved from the tablet (a camera at
    the lane shows the shopper), the others keep the default (at the lane)."""
    kit = StationKit(tmp_path / "station", broker.port)
    rigs: dict[str, Rig] = {}
    lanes: dict[str, app.Lane] = {}
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(running_station(kit))
        for lane_id in LANES:
            (tmp_path / lane_id).mkdir()
            rig = Rig(tmp_path / lane_id, broker, issuer=kit.issuer, station_key=kit.signing_key, lane_id=lane_id)
            stack.callback(rig.scanner.close)
            rigs[lane_id] = rig
            remote = {"age_restricted": "remote"} if lane_id == "lane-03" else {}
            lanes[lane_id] = await stack.enter_async_context(rig.lane(remote=remote))
        yield kit, lanes, rigs


def resolved(lane: app.Lane, intervention_id: str) -> list[dict[str, object]]:
    """The lane's `call_resolved` events for one intervention (what the cloud is told was decided)."""
    rows = lane.lane_db.reader().execute("SELECT payload FROM outbox WHERE schema = 'omo.attendant/1'")
    return [e for e in (json.loads(p) for (p,) in rows)
            if e["event"] == "call_resolved" and e["intervention_id"] == intervention_id]


async def test_a_beer_on_lane_3_shows_on_the_page_and_an_approve_on_its_tile_unblocks_the_lane(
        tmp_path: Path, mqtt_broker: MosquittoBroker, browser: Browser) -> None:  # noqa: F811
    async with store(tmp_path, mqtt_broker) as (kit, lanes, rigs), \
            tablet(browser, kit, kit.badge("S-4", name="Mori")) as page:
        lane = lanes["lane-03"]
        call = await rigs["lane-03"].call(lane, BEER, "age_restricted")
        await page.wait_for_selector("#tile-lane-03 .call")
        assert "lane-03" == (await page.eval_on_selector_all("#tiles .tile", "(t) => t.map((e) => e.dataset.lane)"))[0]
        await page.click("#tile-lane-03 button.approve")
        await wait_until(lambda: not lane.session.session.pending, 10)
        assert lane.session.session.state.value == "scanning"
        assert len(lane.session.view()["lines"]) == 1, "an approved beer stays in the basket"
        await page.wait_for_selector('#tile-lane-03[data-calls="0"]')
        [event] = resolved(lane, call["intervention_id"])
        assert (event["staff_id"], event["via"], event["decision"]) == ("S-4", "station", "approved")
        for other in LANES:
            if other != "lane-03":
                assert not lanes[other].session.session.pending, f"{other} was touched"


async def test_a_call_outlives_the_store_broker_killed_and_is_decided_once_after_its_restart(
        tmp_path: Path, mqtt_broker: MosquittoBroker, browser: Browser) -> None:  # noqa: F811
    async with store(tmp_path, mqtt_broker) as (kit, lanes, rigs), \
            tablet(browser, kit, kit.badge("S-2", name="Ito")) as page:
        lane = lanes["lane-05"]
        call = await rigs["lane-05"].call(lane, NOT_IN_CATALOG, "unknown_item")
        await page.wait_for_selector("#tile-lane-05 .call")
        await asyncio.to_thread(mqtt_broker.kill)                   # SIGKILL, no persistence: retained state is gone
        await page.wait_for_selector("#banner:not([hidden])")
        await asyncio.to_thread(mqtt_broker.start)
        await page.wait_for_selector("#banner[hidden]", state="attached", timeout=60000)
        # The tile is "not heard from" until lane 5 has reconnected and said its status again, call and all.
        await page.wait_for_selector('#tile-lane-05[data-state="needs_attendant"] .call', timeout=60000)
        await page.click("#tile-lane-05 button.approve")
        await wait_until(lambda: not lane.session.session.pending, 20)
        await page.wait_for_selector('#tile-lane-05[data-calls="0"]')
        assert len(resolved(lane, call["intervention_id"])) == 1, "decided once"
