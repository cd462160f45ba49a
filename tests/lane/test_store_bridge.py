"""The store-level bridge of docs/operations/mosquitto/store-bridge.conf, run for real with two mosquittos.

Lanes (the fleet simulator's, i.e. the agent's own sync code) talk to the store's broker, which bridges over
TLS, with the store's certificate, to the cloud's broker, where the reference ingest confirms each event.
The uplink runs through a fault proxy, so it can be cut while both brokers stay up, as a store's WAN fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.sync.settings import MqttSection
from simulators.cloud.broker import MosquittoBroker, end_process, mosquitto_path, wait_listening
from simulators.cloud.certs import LanePki
from simulators.cloud.faultproxy import FaultProxy
from simulators.doubles.ports import free_port
from simulators.doubles.waiting import wait_until
from simulators.fleet.cloud import start_ingest
from simulators.fleet.fleet import Fleet, FleetPlan
from simulators.fleet.ingest_view import held_by_stream
from simulators.fleet.traffic import Rate

pytestmark = [pytest.mark.broker, pytest.mark.timeout(150)]

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "operations" / "mosquitto" / "store-bridge.conf"
STORE = "store-0001"   # the fleet's first store


class StoreBroker:
    """The store's mosquitto: a plain listener for the test's lanes plus the example's bridge, as written."""

    def __init__(self, directory: Path, pki: LanePki, uplink_port: int) -> None:
        exe = mosquitto_path()
        assert exe is not None
        self.exe, self.port, self.directory = exe, free_port(), directory
        bridge = pki.ca.issue("store-bridge", f"{STORE}.bridge")
        text = EXAMPLE.read_text()
        replacements = {
            "store-001": STORE,
            "cloud-broker.example.net:8883": f"127.0.0.1:{uplink_port}",
            "/etc/mosquitto/omo/cloud-ca.pem": str(pki.ca.path),
            f"/etc/mosquitto/omo/{STORE}-bridge.pem": str(bridge.cert),
            f"/etc/mosquitto/omo/{STORE}-bridge.key": str(bridge.key),
            "restart_timeout 2 30": "restart_timeout 1 1",   # the only change of behaviour: a test waits less
        }
        for old, new in replacements.items():
            assert old in text, f"{old!r} is no longer in the example: update this test"
            text = text.replace(old, new)
        head = ["user root"] if os.geteuid() == 0 else []
        head += [f"listener {self.port} 127.0.0.1", "allow_anonymous true", "max_inflight_messages 0",
                 "set_tcp_nodelay true", "log_dest stderr", "log_type error", "log_type warning", "log_type notice"]
        directory.mkdir(parents=True, exist_ok=True)
        self.conf = directory / "store.conf"
        self.conf.write_text("\n".join(head) + "\n" + text)
        self.log = directory / "store-mosquitto.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([self.exe, "-c", str(self.conf)], stdout=log, stderr=log)
        wait_listening(self.process, "127.0.0.1", self.port, self.log, "store mosquitto", 5)

    def kill(self) -> None:
        end_process(self.process, 9)


@dataclass
class Store:
    cloud: MosquittoBroker
    uplink: FaultProxy
    broker: StoreBroker
    ingest_db: Path


@pytest.fixture
async def store(tmp_path: Path, sync_pki: LanePki) -> AsyncIterator[Store]:
    if mosquitto_path() is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto, or run ./.ci/bootstrap test)")
    cloud = MosquittoBroker(tmp_path / "cloud", pki=sync_pki, lanes=(), stores=(STORE,))
    cloud.start()
    ingest_db = tmp_path / "ingest.db"
    ingest = start_ingest(cloud, str(ingest_db), 1)
    assert cloud.tls_port is not None
    uplink = FaultProxy(cloud.tls_port)
    await uplink.start()
    broker = StoreBroker(tmp_path / "store", sync_pki, uplink.port)
    broker.start()
    try:
        yield Store(cloud, uplink, broker, ingest_db)
    finally:
        broker.kill()
        await uplink.close()
        ingest.kill()
        ingest.communicate(timeout=10)
        cloud.stop()


@contextlib.asynccontextmanager
async def shopping_fleet(store: Store, tmp_path: Path, lanes: int = 4) -> AsyncIterator[Fleet]:
    """`lanes` lanes of one store on the store's broker, a visit every 2 s each, resent after 3 s unconfirmed."""
    section = MqttSection(host="127.0.0.1", port=store.broker.port, keepalive_s=5, confirm_timeout_s=3)
    fleet = Fleet(FleetPlan(lanes=lanes, state_root=tmp_path / "lanes", rate=Rate(30, 10), lanes_per_store=lanes),
                  section)
    try:
        await fleet.open()
        await fleet.wait_connected(15)
        fleet.start_shopping()
        yield fleet
    finally:
        await fleet.close()


def held_rows(db: Path) -> int:
    return sum(counts.rows for counts in held_by_stream(str(db)).values()) if db.exists() else 0


def sales(fleet: Fleet) -> int:
    return sum(lane.sales for lane in fleet.lanes)


async def finish(fleet: Fleet, ingest_db: Path) -> None:
    """Stop shopping, wait for every lane's outbox to be confirmed, and check the ingest holds each seq once."""
    await fleet.stop_shopping()
    await fleet.drain(60, poll_s=0.1)
    await fleet.close()
    assert fleet.problems(held_by_stream(str(ingest_db))) == []
    assert all(lane.last_seq > 0 for lane in fleet.lanes)


def publish_delta(port: int, topic: str, payload: bytes) -> None:
    """A store-side publisher (the store's back office) puts a catalog delta on the store's broker."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="store-back-office")
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()


async def test_a_cut_uplink_stops_no_sale_and_loses_nothing(store: Store, tmp_path: Path) -> None:
    async with shopping_fleet(store, tmp_path) as fleet:
        await wait_until(lambda: held_rows(store.ingest_db) > 40, 20)   # the bridge carries events to the cloud

        store.uplink.refuse = True
        store.uplink.reset()
        cut_at_sales = sales(fleet)
        held_at_cut = held_rows(store.ingest_db)
        await wait_until(lambda: sales(fleet) >= cut_at_sales + 2 * len(fleet.lanes), 20)   # sales go on
        assert fleet.backlog() > 0, "events recorded during the cut cannot have been confirmed"
        assert held_rows(store.ingest_db) <= held_at_cut + 200   # at most what was in flight when it was cut

        # The store's own catalog delta reaches every lane on the store's broker while the cloud is away.
        await asyncio.to_thread(publish_delta, store.broker.port, f"omo/v1/{STORE}/catalog", b'{"version": 2}')
        await wait_until(lambda: all(lane.catalog_deltas >= 1 for lane in fleet.lanes), 10)

        store.uplink.refuse = False   # the uplink returns: the bridge reconnects, the backlog is confirmed
        await wait_until(lambda: held_rows(store.ingest_db) > held_at_cut + 50, 30)
        await finish(fleet, store.ingest_db)


async def test_a_store_broker_restart_loses_nothing(store: Store, tmp_path: Path) -> None:
    async with shopping_fleet(store, tmp_path) as fleet:
        await wait_until(lambda: held_rows(store.ingest_db) > 40, 20)
        store.broker.kill()   # kill -9: its in-memory queue (persistence false) is gone
        before = sales(fleet)
        await wait_until(lambda: sales(fleet) > before, 10)   # lanes record sales with their broker down
        assert fleet.connected() == 0
        store.broker.start()
        await fleet.wait_connected(30)
        await finish(fleet, store.ingest_db)

