"""The station as deployed: the page over HTTPS with its own certificate and a Secure, HttpOnly, SameSite=Strict
session cookie; the broker over TLS with the station's client certificate, and the ACL keeping it to its store."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from simulators.cloud.broker import MosquittoBroker, mosquitto_path
from simulators.cloud.certs import LanePki
from simulators.lanes.attendant_lanes import AttendantLanes
from simulators.lanes.station import StationKit, running_station

pytestmark = pytest.mark.broker
LANES = [("store-001", "lane-01"), ("store-001", "lane-02"), ("store-002", "lane-01")]


@pytest.fixture
def acl_broker(tmp_path: Path, sync_pki: LanePki) -> Iterator[MosquittoBroker]:
    if mosquitto_path() is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    broker = MosquittoBroker(tmp_path / "broker", pki=sync_pki, lanes=LANES, stations=[("store-001", "station-1")])
    broker.start()
    yield broker
    broker.kill()


@pytest.fixture
def kit(acl_broker: MosquittoBroker, sync_pki: LanePki, tmp_path: Path) -> StationKit:
    client = sync_pki.ca.issue("station-1-client", "store-001.station-1")
    assert acl_broker.tls_port is not None
    return StationKit(tmp_path / "station", acl_broker.tls_port, https=(sync_pki.server.cert, sync_pki.server.key),
                      broker_tls=(sync_pki.ca.path, client.cert, client.key))


async def test_https_login_sets_a_strict_cookie_and_commands_cross_the_tls_broker(
        kit: StationKit, acl_broker: MosquittoBroker, sync_pki: LanePki) -> None:
    lanes = AttendantLanes("127.0.0.1", acl_broker.port, "store-001", ["lane-01", "lane-02"],
                           station_keys=[kit.station_public], staff_keys=kit.staff_key_paths)
    await asyncio.to_thread(lanes.start)
    trust = ssl.create_default_context(cafile=str(sync_pki.ca.path))
    try:
        async with running_station(kit), aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=trust), cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.post(kit.url + "/api/login", json={"token": kit.badge("S-1")}) as response:
                assert response.status == 200
                cookie = response.headers["Set-Cookie"]
            assert all(part in cookie for part in ("HttpOnly", "Secure", "SameSite=Strict")), cookie
            assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
            intervention = lanes.raise_call("lane-02", "unknown_item")
            for _ in range(100):
                async with http.get(kit.url + "/api/lanes") as response:
                    view = await response.json()
                if any(t["calls"] for t in view["lanes"]) and view["broker"] == "connected":
                    break
                await asyncio.sleep(0.1)
            async with http.post(kit.url + "/api/lanes/lane-02/commands", json={
                    "action": "approve", "session_id": lanes.lanes["lane-02"].session_id,
                    "intervention_id": intervention}) as response:
                reply = await response.json()
            assert reply["outcome"] == "applied", reply
    finally:
        await asyncio.to_thread(lanes.stop)


def test_the_acl_keeps_the_station_to_its_own_store(kit: StationKit, acl_broker: MosquittoBroker,
                                                    sync_pki: LanePki) -> None:
    received: list[str] = []
    got = threading.Event()
    watcher = paho.Client(CallbackAPIVersion.VERSION2, client_id="watcher", protocol=MQTTProtocolVersion.MQTTv5)
    subscribed, connected = threading.Event(), threading.Event()
    watcher.on_message = lambda _c, _u, msg: (received.append(msg.topic), got.set())
    watcher.on_subscribe = lambda *_: subscribed.set()
    watcher.connect("127.0.0.1", acl_broker.port)
    watcher.subscribe("omo/v1/+/+/attendant/commands", qos=1)
    watcher.loop_start()
    station = paho.Client(CallbackAPIVersion.VERSION2, client_id="station", protocol=MQTTProtocolVersion.MQTTv5)
    assert kit.broker_tls is not None
    ca, cert, key = kit.broker_tls
    station.tls_set(ca_certs=str(ca), certfile=str(cert), keyfile=str(key))
    station.on_connect = lambda *_: connected.set()
    station.connect("127.0.0.1", acl_broker.tls_port or 0)
    station.loop_start()
    try:
        assert subscribed.wait(5) and connected.wait(5)
        station.publish("omo/v1/store-002/lane-01/attendant/commands", b"{}", qos=1).wait_for_publish(5)
        station.publish("omo/v1/store-001/lane-01/attendant/commands", b"{}", qos=1).wait_for_publish(5)
        assert got.wait(5)      # one publisher, in order: the refused one would have come first
        assert received == ["omo/v1/store-001/lane-01/attendant/commands"]
    finally:
        station.loop_stop()
        watcher.loop_stop()


def test_the_command_refuses_to_start_without_tls(tmp_path: Path) -> None:
    kit = StationKit(tmp_path, broker_port=1883)
    kit.config.write_text(kit.toml().replace("insecure_loopback_only = true\n", ""))
    result = subprocess.run([sys.executable, "-m", "agent", "attendant", "--config", str(kit.config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "[station] tls_cert" in result.stderr and "Traceback" not in result.stderr
