"""The attendant station on a real mosquitto with eight fake lanes (simulators/lanes/attendant_lanes.py), driven
through its real HTTP API on 127.0.0.1: calls shown oldest first, decisions reaching the lane once, a race told
who won, stale lanes, the broker killed and back, and commands refused at the station or the lane."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from simulators.cloud.broker import MosquittoBroker
from simulators.lanes.attendant_lanes import AttendantLanes
from simulators.lanes.station import StationKit, running_station

pytestmark = pytest.mark.broker
LANES = [f"lane-{n:02d}" for n in range(1, 9)]


class Page:
    """One tablet's HTTP session (its own cookie jar)."""

    def __init__(self, kit: StationKit, http: aiohttp.ClientSession) -> None:
        self.kit, self.http = kit, http

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        async with self.http.request(method, self.kit.url + path, json=body) as response:
            return response.status, await response.json()

    async def login(self, token: str) -> tuple[int, Any]:
        return await self.call("POST", "/api/login", {"token": token})


async def until(check: Callable[[], Any], timeout_s: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := await check() if asyncio.iscoroutinefunction(check) else check():
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"not true within {timeout_s} s: {check}")


@pytest.fixture
async def store(mqtt_broker: MosquittoBroker, tmp_path: Path) -> AsyncIterator[tuple[StationKit, AttendantLanes]]:
    kit = StationKit(tmp_path / "station", mqtt_broker.port)
    lanes = AttendantLanes("127.0.0.1", mqtt_broker.port, kit.store_id, LANES, station_keys=[kit.station_public],
                           staff_keys=kit.staff_key_paths, heartbeat_s=1.0)
    await asyncio.to_thread(lanes.start)
    try:
        async with running_station(kit):
            yield kit, lanes
    finally:
        await asyncio.to_thread(lanes.stop)


@pytest.fixture
async def page(store: tuple[StationKit, AttendantLanes]) -> AsyncIterator[Page]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15),
                                     cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        yield Page(store[0], http)


async def lanes_view(page: Page) -> dict[str, Any]:
    status, view = await page.call("GET", "/api/lanes")
    assert status == 200, view
    return view  # type: ignore[no-any-return]


async def test_calls_show_oldest_first_and_a_remote_approve_clears_the_tile(
        store: tuple[StationKit, AttendantLanes], page: Page) -> None:
    kit, lanes = store
    status, me = await page.login(kit.badge("S-7", name="Sato"))
    assert status == 200 and me["name"] == "Sato" and me["role"] == "staff"
    await until(lambda: len(lanes.lanes) == 8)
    first = lanes.raise_call("lane-05", "unknown_item", code="123")
    await asyncio.sleep(0.05)
    lanes.raise_call("lane-03", "random_audit")

    async def two_calls() -> Any:
        view = await lanes_view(page)
        return view if sum(bool(t["calls"]) for t in view["lanes"]) == 2 and len(view["lanes"]) == 8 else None

    view = await until(two_calls)
    assert [t["lane_id"] for t in view["lanes"][:2]] == ["lane-05", "lane-03"]       # oldest call on top
    call = view["lanes"][0]["calls"][0]
    assert call["intervention_id"] == first and call["detail"]["code"] == "123"
    status, reply = await page.call("POST", "/api/lanes/lane-05/commands", {
        "action": "approve", "session_id": call["session_id"], "intervention_id": first})
    assert status == 200 and reply["outcome"] == "applied" and reply["decision"] == "approved", reply
    assert reply["staff_name"] == "Sato"
    assert lanes.lanes["lane-05"].applied == [{"action": "approve", "staff_id": "S-7", "intervention_id": first}]

    async def cleared() -> bool:
        tiles = {t["lane_id"]: t for t in (await lanes_view(page))["lanes"]}
        return not tiles["lane-05"]["calls"]

    await until(cleared)
