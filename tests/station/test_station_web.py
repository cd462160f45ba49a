"""The station's HTTP API on a real server on 127.0.0.1 with the station's clock in the test's hands (no broker:
the board is fed as the link would feed it): session expiry, the live event stream, security headers."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from agent.interpret.tokens import load_keys
from agent.station import settings
from agent.station.board import iso
from agent.station.link import Message
from agent.station.service import load_signing_key
from agent.station.station import Station
from agent.station.web import Routes
from simulators.doubles.ports import free_port
from simulators.lanes.station import StationKit


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def status(lane: str, calls: list[dict[str, Any]] | None = None) -> bytes:
    return json.dumps({"schema": "omo.lane_status/1", "store_id": "store-001", "lane_id": lane, "status_seq": 1,
                       "published_at": iso(time.time()), "heartbeat_s": 30, "state": "scanning",
                       "session_id": "V1", "item_count": 0, "total": 0, "currency": "JPY", "lines": [],
                       "interventions": calls or []}).encode()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[StationKit, Station, Clock, aiohttp.ClientSession, str]]:
    kit = StationKit(tmp_path, broker_port=free_port(), session_idle_s=60, session_ttl_s=600)
    loaded = settings.load(kit.config)
    clock = Clock()
    key, kid = load_signing_key(loaded.station.signing_key)
    station = Station(loaded, load_keys(loaded.station.staff_keys), key, kid, asyncio.get_running_loop(), clock)
    runner = web.AppRunner(Routes(station, secure=False).app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", kit.port).start()
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            yield kit, station, clock, http, kit.url
    finally:
        await runner.cleanup()


async def test_a_session_ends_after_the_idle_time_and_after_the_absolute_time(
        served: tuple[StationKit, Station, Clock, aiohttp.ClientSession, str]) -> None:
    kit, _, clock, http, url = served
    async with http.post(url + "/api/login", json={"token": kit.badge("S-1")}) as response:
        assert response.status == 200
    for _ in range(10):                       # active every 55 s: the idle timer never runs out ...
        clock.now += 55
        async with http.get(url + "/api/me") as response:
            assert response.status == 200
    clock.now += 55
    async with http.get(url + "/api/me") as response:
        assert response.status == 401         # ... but 605 s is past the 600 s absolute limit
    async with http.post(url + "/api/login", json={"token": kit.badge("S-1")}) as response:
        assert response.status == 200
    clock.now += 61
    async with http.get(url + "/api/lanes") as response:
        assert response.status == 401         # 61 s idle
        assert (await response.json())["reason"] == "login"


async def test_the_event_stream_sends_the_board_then_each_lane_and_the_broker_state(
        served: tuple[StationKit, Station, Clock, aiohttp.ClientSession, str]) -> None:
    kit, station, _, http, url = served
    async with http.post(url + "/api/login", json={"token": kit.badge("S-1")}) as response:
        assert response.status == 200
    async with http.get(url + "/api/events") as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        first = await read_event(stream)
        assert first[0] == "view" and first[1]["lanes"] == [] and first[1]["broker"] == "lost"
        station._message(Message("omo/v1/store-001/lane-02/attendant/status", status("lane-02"), False, None))
        event, tile = await read_event(stream)
        assert event == "lane" and tile["lane_id"] == "lane-02" and not tile["stale"]
        station._message(Message("omo/v1/store-001/lane-02/status", b"offline", True, None))
        event, tile = await read_event(stream)
        assert event == "lane" and tile["shown_state"] == "offline"
        station._state(True)
        assert await read_event(stream) == ("broker", {"broker": "connected", "broker_lost_at": None})
        station._message(Message("omo/v1/store-009/lane-03/attendant/status", status("lane-03"), False, None))
    assert station.board.lane_ids() == ["lane-02"]        # another store's status is not this station's


async def read_event(stream: aiohttp.ClientResponse) -> tuple[str, Any]:
    event, data = "", ""
    async with asyncio.timeout(5):
        while True:
            line = (await stream.content.readline()).decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and event:
                return event, json.loads(data)


async def test_pages_and_api_carry_the_security_headers_and_no_cross_site_post(
        served: tuple[StationKit, Station, Clock, aiohttp.ClientSession, str]) -> None:
    kit, _, _, http, url = served
    async with http.get(url + "/") as response:
        assert response.status == 200 and "<title>omo-edge attendant</title>" in await response.text()
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    async with http.post(url + "/api/login", json={"token": kit.badge()},
                         headers={"Origin": "http://evil.example"}) as response:
        assert response.status == 403 and (await response.json())["reason"] == "origin"
    async with http.post(url + "/api/login", json={"token": kit.badge()},
                         headers={"Origin": url}) as response:
        assert response.status == 200


async def test_the_station_stops_at_once_with_a_page_listening(tmp_path: Path) -> None:
    """An open event stream held the stop for its 15 s keep-alive; the stop now ends every stream first."""
    from simulators.lanes.station import running_station

    kit = StationKit(tmp_path, broker_port=free_port())      # no broker: the station keeps trying, and serves
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with running_station(kit):
            async with http.post(kit.url + "/api/login", json={"token": kit.badge()}) as response:
                assert response.status == 200
            stream = await http.get(kit.url + "/api/events")
            assert (await read_event(stream))[0] == "view"
            started = time.monotonic()
        assert time.monotonic() - started < 3
        stream.close()
