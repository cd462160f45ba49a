"""The lane's side against the real attendant station (agent.station, on this loop) over one mosquitto: a beer
on the lane shows on the station, an age check cannot be approved from it, an unknown item approved from the
station unblocks the lane, and the station is told who decided when a second decision comes too late."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from simulators.cloud.broker import MosquittoBroker
from simulators.cloud.store_catalog import BEER, NOT_IN_CATALOG
from simulators.doubles.waiting import wait_until
from simulators.lanes.attendant_rig import Rig
from simulators.lanes.station import StationKit, running_station

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]


class Page:
    """The staff page's HTTP API as one logged-in member of staff uses it."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url = http, url

    async def login(self, badge: str) -> None:
        async with self.http.post(f"{self.url}/api/login", json={"token": badge}) as response:
            assert response.status == 200, await response.text()

    async def tile(self) -> dict[str, Any]:
        async with self.http.get(f"{self.url}/api/lanes") as response:
            lanes = (await response.json())["lanes"]
        return next((t for t in lanes if t["lane_id"] == "lane-01"), {})

    async def decide(self, **body: Any) -> tuple[int, dict[str, Any]]:
        async with self.http.post(f"{self.url}/api/lanes/lane-01/commands", json=body) as response:
            return response.status, await response.json()


async def test_the_lane_and_the_station_speak_the_same_contract(tmp_path: Path, mqtt_broker: MosquittoBroker) -> None:
    kit = StationKit(tmp_path / "station", mqtt_broker.port)
    (tmp_path / "lane").mkdir()
    rig = Rig(tmp_path / "lane", mqtt_broker, issuer=kit.issuer, station_key=kit.signing_key)
    tile: dict[str, Any] = {}

    async def tile_is(page: Page, check: Any) -> dict[str, Any]:
        async def seen() -> bool:
            tile.clear()
            tile.update(await page.tile())
            return bool(tile) and bool(check(tile))

        for _ in range(150):
            if await seen():
                return dict(tile)
            await asyncio.sleep(0.1)
        raise AssertionError(f"the station's tile never matched: {tile}")

    try:
        async with running_station(kit), rig.lane() as lane, \
                aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as one, \
                aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:   # cookies on 127.0.0.1
            first, second = Page(one, kit.url), Page(other, kit.url)
            await first.login(kit.badge("S-1", name="Sato"))
            await second.login(kit.badge("S-2", name="Suzuki"))
            await rig.call(lane, BEER, "age_restricted")
            shown = await tile_is(first, lambda t: t["calls"])
            (call,) = shown["calls"]
            assert (call["reason"], call["remote_allowed"], shown["shown_state"]) == \
                ("age_restricted", False, "needs_attendant")
            status, refused = await first.decide(action="approve", session_id=call["session_id"],
                                                 intervention_id=call["intervention_id"])
            assert (status, refused["outcome"], refused["reason"]) == (200, "refused", "at_lane_only")
            rig.scanner.scan(kit.badge("S-3"), aim="]Q1")                    # someone at the lane checks the ID
            await wait_until(lambda: not lane.session.session.pending, 10)

            await rig.call(lane, NOT_IN_CATALOG, "unknown_item")
            shown = await tile_is(first, lambda t: t["calls"] and t["calls"][0]["reason"] == "unknown_item")
            call = shown["calls"][0]
            status, coming = await first.decide(action="coming", session_id=call["session_id"],
                                                intervention_id=call["intervention_id"])
            assert (status, coming["outcome"]) == (200, "applied")
            assert lane.session.view()["prompts"][0] == {"code": "help_coming", "message": "Help is on the way.",
                                                         "level": "info", "args": {"name": "Sato"}}
            status, approved = await first.decide(action="approve", session_id=call["session_id"],
                                                  intervention_id=call["intervention_id"])
            status2, late = await second.decide(action="reject", session_id=call["session_id"],
                                                intervention_id=call["intervention_id"])
            assert (approved["outcome"], approved["resolved_by"], approved["resolved_by_name"]) == \
                ("applied", "S-1", "Sato")
            assert (late["outcome"], late["resolved_by"], late["resolved_by_name"]) == \
                ("already_resolved", "S-1", "Sato")
            assert lane.session.session.state.value == "scanning" and not lane.session.session.pending
            await tile_is(first, lambda t: not t["calls"] and t["shown_state"] == "scanning")
    finally:
        rig.scanner.close()
