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
import jsonschema
import pytest
import yaml

from simulators.cloud.broker import MosquittoBroker
from simulators.lanes.attendant_lanes import AttendantLanes
from simulators.lanes.station import StationKit, running_station

pytestmark = pytest.mark.broker
LANES = [f"lane-{n:02d}" for n in range(1, 9)]
OPENAPI: dict[str, Any] = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "docs" / "attendant-openapi.yaml").read_text())


def check(path: str, method: str, status: int, body: Any) -> None:
    """The body fits the schema docs/attendant-openapi.yaml gives for this path, method and status."""
    template = "/api/lanes/{lane}/" + path.split("/")[-1] if path.startswith("/api/lanes/") else path
    response = OPENAPI["paths"][template][method]["responses"][str(status)]
    if "$ref" in response:
        response = OPENAPI["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = {**response["content"]["application/json"]["schema"], "components": OPENAPI["components"]}
    jsonschema.Draft202012Validator(schema).validate(body)


class Page:
    """One tablet's HTTP session (its own cookie jar)."""

    def __init__(self, kit: StationKit, http: aiohttp.ClientSession) -> None:
        self.kit, self.http = kit, http

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        async with self.http.request(method, self.kit.url + path, json=body) as response:
            payload = await response.json()
        check(path, method.lower(), response.status, payload)
        return response.status, payload

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
    first = lanes.raise_call("lane-05", "unknown_item", code="123", ago_s=1.0)    # the older call
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
    async with page.http.get(kit.url + "/metrics") as response:
        metrics = await response.text()
    assert 'omo_edge_station_commands_total{action="approve",outcome="applied"} 1.0' in metrics
    assert 'omo_edge_station_call_resolve_seconds_count{reason="unknown_item"} 1.0' in metrics
    assert 'omo_edge_station_lanes{state="needs_attendant"} 1.0' in metrics


async def test_two_staff_decide_the_same_call_at_once_one_wins_and_the_other_is_told_who(
        store: tuple[StationKit, AttendantLanes], page: Page) -> None:
    kit, lanes = store
    await page.login(kit.badge("S-1", name="Aoki"))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other_http:
        other = Page(kit, other_http)
        await other.login(kit.badge("S-2", name="Kato"))
        intervention = lanes.raise_call("lane-02", "unknown_item")
        session_id = lanes.lanes["lane-02"].session_id

        async def shown() -> bool:
            return any(t["calls"] for t in (await lanes_view(other))["lanes"])

        await until(shown)
        body = {"session_id": session_id, "intervention_id": intervention}
        (s1, r1), (s2, r2) = await asyncio.gather(
            page.call("POST", "/api/lanes/lane-02/commands", {"action": "approve", **body}),
            other.call("POST", "/api/lanes/lane-02/commands", {"action": "reject", **body}))
    assert s1 == s2 == 200
    outcomes = sorted([r1["outcome"], r2["outcome"]])
    assert outcomes == ["already_resolved", "applied"], (r1, r2)
    winner, loser = (r1, r2) if r1["outcome"] == "applied" else (r2, r1)
    assert loser["resolved_by"] == winner["staff_id"] and loser["resolved_by_name"] == winner["staff_name"]
    assert loser["decision"] == winner["decision"]
    assert len(lanes.lanes["lane-02"].applied) == 1


async def test_a_lane_that_stops_sending_turns_stale_and_comes_back(
        store: tuple[StationKit, AttendantLanes], page: Page) -> None:
    kit, lanes = store
    await page.login(kit.badge())
    await until(lambda: len(lanes.lanes) == 8)
    lanes.silence("lane-04")

    async def stale(lane_id: str, expected: bool) -> Callable[[], Any]:
        async def check() -> bool:
            tiles = {t["lane_id"]: t for t in (await lanes_view(page))["lanes"]}
            return lane_id in tiles and tiles[lane_id]["stale"] is expected and (
                tiles[lane_id]["shown_state"] == "stale") is expected
        return check

    await until(await stale("lane-04", True), timeout_s=8)      # heartbeat 1 s: stale after 1.5 s + 2 s grace
    tiles = {t["lane_id"]: t for t in (await lanes_view(page))["lanes"]}
    assert not tiles["lane-01"]["stale"]
    lanes.silence("lane-04", False)
    await until(await stale("lane-04", False), timeout_s=5)


async def test_broker_killed_the_page_is_told_and_catches_up_on_return(
        store: tuple[StationKit, AttendantLanes], page: Page, mqtt_broker: MosquittoBroker) -> None:
    kit, lanes = store
    await page.login(kit.badge())
    intervention = lanes.raise_call("lane-03", "unknown_item")

    async def broker(state: str) -> Callable[[], Any]:
        async def check() -> bool:
            return (await lanes_view(page))["broker"] == state
        return check

    await until(await broker("connected"))
    await asyncio.to_thread(mqtt_broker.kill)
    await until(await broker("lost"))
    status, reply = await page.call("POST", "/api/lanes/lane-03/commands", {
        "action": "approve", "session_id": lanes.lanes["lane-03"].session_id, "intervention_id": intervention})
    assert status == 503 and reply["outcome"] == "not_sent" and "decide at the lane" in reply["message"]
    await asyncio.to_thread(mqtt_broker.start)      # persistence off: every retained status is gone
    assert await asyncio.to_thread(lanes.wait_connected)

    async def caught_up() -> bool:
        view = await lanes_view(page)
        tiles = {t["lane_id"]: t for t in view["lanes"]}
        return view["broker"] == "connected" and bool(tiles["lane-03"]["calls"])

    await until(await broker("connected"), timeout_s=40)
    await until(caught_up, timeout_s=40)
    status, reply = await page.call("POST", "/api/lanes/lane-03/commands", {
        "action": "approve", "session_id": lanes.lanes["lane-03"].session_id, "intervention_id": intervention})
    assert status == 200 and reply["outcome"] == "applied", reply
    assert [a["action"] for a in lanes.lanes["lane-03"].applied] == ["approve"]


async def test_refusals_change_nothing_on_the_lane(store: tuple[StationKit, AttendantLanes], page: Page) -> None:
    kit, lanes = store
    await page.login(kit.badge("S-3"))                      # role staff
    intervention = lanes.raise_call("lane-06", "age_restricted")   # decided at the lane by default
    session_id = lanes.lanes["lane-06"].session_id
    await until(lambda: lanes.lanes["lane-06"].seq > 1)

    async def known() -> bool:
        return any(t["calls"] for t in (await lanes_view(page))["lanes"])

    await until(known)
    status, reply = await page.call("POST", "/api/lanes/lane-06/commands", {
        "action": "approve", "session_id": session_id, "intervention_id": intervention})
    assert status == 200 and reply["outcome"] == "refused" and reply["reason"] == "at_lane_only", reply
    status, reply = await page.call("POST", "/api/lanes/lane-06/commands", {"action": "void_sale", "sale_id": "X1"})
    assert status == 403 and reply["reason"] == "role"
    status, reply = await page.call("POST", "/api/lanes/lane-06/commands", {"action": "approve"})
    assert status == 400 and "session_id" in reply["detail"]
    status, reply = await page.call("POST", "/api/lanes/lane-99/commands", {"action": "lock"})
    assert status == 404
    assert lanes.lanes["lane-06"].applied == [] and intervention in lanes.lanes["lane-06"].calls


async def test_a_lane_that_never_answers_is_reported_and_not_retried(
        store: tuple[StationKit, AttendantLanes], page: Page) -> None:
    kit, lanes = store
    await page.login(kit.badge())
    await until(lambda: len(lanes.lanes) == 8)

    async def known() -> bool:
        return len((await lanes_view(page))["lanes"]) == 8

    await until(known)
    await asyncio.to_thread(lanes.stop)                     # every lane's agent gone, its retained status left
    started = time.monotonic()
    status, reply = await page.call("POST", "/api/lanes/lane-01/commands", {"action": "lock"})
    assert status == 504 and reply["outcome"] == "no_answer" and "no answer from lane-01" in reply["message"]
    assert kit.reply_timeout_s <= time.monotonic() - started < kit.reply_timeout_s + 2
    assert lanes.replies == []


async def test_login_refused_for_a_bad_or_foreign_token_and_pages_need_a_session(
        store: tuple[StationKit, AttendantLanes], page: Page) -> None:
    kit, _ = store
    from simulators.cloud.tokens import TokenIssuer, forge_payload

    status, body = await page.call("GET", "/api/lanes")
    assert status == 401
    for token, reason in ((TokenIssuer(kid="staff-test").staff("S-1"), "bad_signature"),
                          (TokenIssuer(kid="other").staff("S-1"), "unknown_key"),
                          (forge_payload(kit.badge("S-1"), role="supervisor"), "bad_signature"),
                          (kit.issuer.member("M-1"), "wrong_type"),
                          (kit.badge("S-1", ttl_s=-1000), "expired"),
                          ("not a token", "malformed")):
        status, body = await page.login(token)
        assert (status, body["reason"]) == (401, reason), (token, body)
    status, body = await page.call("GET", "/api/lanes")
    assert status == 401
    async with page.http.post(kit.url + "/api/login", data={"token": kit.badge()}) as response:
        assert response.status == 415                       # a cross-site form cannot log in or command
        check("/api/login", "post", 415, await response.json())
    async with page.http.post(kit.url + "/api/login", json={"token": kit.badge()},
                              headers={"Origin": "https://evil.example"}) as response:
        assert response.status == 403
    async with page.http.get(kit.url + "/healthz") as response:
        check("/healthz", "get", 200, await response.json())
    status, body = await page.login(kit.badge("S-9", role="supervisor"))
    assert status == 200 and body["role"] == "supervisor"
    status, body = await page.call("POST", "/api/logout", {})
    assert status == 200
    status, body = await page.call("GET", "/api/me")
    assert status == 401


async def test_under_mqtt_3_1_1_the_reply_topic_in_the_payload_is_enough(
        mqtt_broker: MosquittoBroker, tmp_path: Path) -> None:
    kit = StationKit(tmp_path / "station", mqtt_broker.port, protocol="3.1.1")
    lanes = AttendantLanes("127.0.0.1", mqtt_broker.port, kit.store_id, ["lane-01"], station_keys=[kit.station_public],
                           staff_keys=kit.staff_key_paths, protocol="3.1.1")
    await asyncio.to_thread(lanes.start)
    try:
        async with running_station(kit), aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            page = Page(kit, http)
            await page.login(kit.badge())
            intervention = lanes.raise_call("lane-01", "unknown_item")

            async def shown() -> bool:
                return any(t["calls"] for t in (await lanes_view(page))["lanes"])

            await until(shown)
            status, reply = await page.call("POST", "/api/lanes/lane-01/commands", {
                "action": "approve", "session_id": lanes.lanes["lane-01"].session_id, "intervention_id": intervention})
            assert status == 200 and reply["outcome"] == "applied", reply
    finally:
        await asyncio.to_thread(lanes.stop)


async def test_the_station_turns_nagle_off_on_its_broker_socket(mqtt_broker: MosquittoBroker, tmp_path: Path) -> None:
    """paho leaves Nagle on: a command then waited for the broker's delayed ACK, about 40 ms (bench/attendant.py)."""
    import socket

    from agent.station import settings
    from agent.station.link import Link

    kit = StationKit(tmp_path / "station", mqtt_broker.port)
    connected = asyncio.Event()
    link = Link(settings.load(kit.config).broker, ("omo/v1/x",), lambda _m: None,
                lambda up: connected.set() if up else None, asyncio.get_running_loop())
    link.start()
    try:
        await asyncio.wait_for(connected.wait(), 10)
        sock = link._client.socket()
        assert isinstance(sock, socket.socket)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        await asyncio.to_thread(link.stop)
