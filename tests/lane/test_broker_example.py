"""The example broker in docs/operations/mosquitto/, run for real: a lane's certificate works on its own topics
and is refused on another lane's, and the cloud's ingest confirms what the lane sends."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from agent.health import State
from agent.session.records.sales import record_sale
from agent.sync.settings import MqttSection
from simulators.cloud.broker import mosquitto_path, wait_listening
from simulators.cloud.certs import SERVER_NAME, LanePki, Pair
from simulators.doubles.ports import free_port
from simulators.doubles.waiting import wait_until
from simulators.lanes.sync import mqtt_section, running_lane
from simulators.lanes.writer import sale

pytestmark = [pytest.mark.broker, pytest.mark.timeout(60)]

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "operations" / "mosquitto"


@dataclass
class ExampleBroker:
    port: int
    pki: LanePki
    ingest_cert: Pair


def runnable(text: str, replacements: dict[str, str]) -> str:
    """The example with the machine's paths and port; each replaced text must still be in the example."""
    for old, new in replacements.items():
        assert old in text, f"{old!r} is no longer in the example config: update this test"
        text = text.replace(old, new)
    if os.geteuid() == 0:   # mosquitto started as root drops to its own user, who cannot read the test's files
        text = "user root\n" + text
    return text


@pytest.fixture
def example_broker(tmp_path: Path, sync_pki: LanePki) -> Iterator[ExampleBroker]:
    exe = mosquitto_path()
    if exe is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto, or run ./.ci/bootstrap test)")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(runnable((EXAMPLE / "mosquitto.conf").read_text(), {
        "listener 8883": f"listener {port} 127.0.0.1",
        "/etc/mosquitto/omo/ca.pem": str(sync_pki.ca.path),
        "/etc/mosquitto/omo/broker.pem": str(sync_pki.server.cert),
        "/etc/mosquitto/omo/broker.key": str(sync_pki.server.key),
        "/etc/mosquitto/omo/acl": str(EXAMPLE / "acl"),
    }))
    log = (tmp_path / "mosquitto.log").open("wb")
    process = subprocess.Popen([exe, "-c", str(conf)], stdout=log, stderr=log)
    try:
        wait_listening(process, "127.0.0.1", port, tmp_path / "mosquitto.log", "mosquitto", 5)
        yield ExampleBroker(port, sync_pki, sync_pki.ca.issue("ingest", "ingest"))
    finally:
        process.kill()
        process.wait(timeout=5)
        log.close()


@contextlib.contextmanager
def ingest_process(broker: ExampleBroker, db: Path) -> Iterator[Path]:
    """The reference ingest with its own certificate (CN "ingest"), as the cloud would run it."""
    pki, cert = broker.pki, broker.ingest_cert
    process = subprocess.Popen(
        [sys.executable, "-m", "simulators.cloud.ingest", "--port", str(broker.port), "--db", str(db),
         "--ca-file", str(pki.ca.path), "--cert-file", str(cert.cert), "--key-file", str(cert.key)],
        stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    try:
        assert process.stdout.readline().strip() == "ready", "the ingest could not subscribe with its certificate"
        yield db
    finally:
        process.kill()
        process.wait(timeout=5)
        process.stdout.close()


def lane_section(broker: ExampleBroker, cert: Pair, client_id: str) -> MqttSection:
    return mqtt_section(broker.port, tls=True, ca_file=broker.pki.ca.path, cert_file=cert.cert, key_file=cert.key,
                        server_name=SERVER_NAME, client_id=client_id)


def held_sales(db: Path) -> list[str]:
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT event_id FROM events WHERE schema = 'omo.sale/1'")]
    finally:
        conn.close()


async def test_a_lane_certificate_sends_its_own_events_and_the_ingest_confirms_them(
        example_broker: ExampleBroker, tmp_path: Path) -> None:
    cert = example_broker.pki.lane("store-001", "lane-01")
    with ingest_process(example_broker, tmp_path / "ingest.db") as ingest_db:
        section = lane_section(example_broker, cert, "omo-edge-store-001-lane-01")
        assert section.delivery == "end-to-end"      # confirmed only by the ingest's ack on the lane's acks topic
        async with running_lane(tmp_path, section) as lane:
            event_id, _ = await lane.db.write(record_sale, sale(1))
            lane.relay.wake()
            await lane.wait_drained(15)
            assert lane.mqtt_health.state == State.OK and lane.relay_health.state != State.DEGRADED
            assert "publish_refused" not in lane.relay_health.counters
        assert held_sales(ingest_db) == [event_id]


async def test_a_lane_certificate_is_refused_on_another_lanes_topics(example_broker: ExampleBroker,
                                                                     tmp_path: Path) -> None:
    cert = example_broker.pki.lane("store-001", "lane-01")   # the certificate of lane-01 ...
    with ingest_process(example_broker, tmp_path / "ingest.db") as ingest_db:
        section = lane_section(example_broker, cert, "omo-edge-store-001-lane-02")
        async with running_lane(tmp_path, section, lane_id="lane-02") as lane:   # ... claiming lane-02's topics
            await lane.db.write(record_sale, sale(1))
            lane.relay.wake()
            await wait_until(lambda: lane.relay_health.counters.get("publish_refused", 0) >= 1, 15)
            assert lane.relay_health.state == State.DEGRADED and "0x87" in lane.relay_health.reason
            assert lane.unconfirmed() == 1
        assert held_sales(ingest_db) == []


def tls_client(broker: ExampleBroker, cert: Pair, seen: list[str],
               arrived: threading.Event | None = None) -> paho.Client:
    """A plain paho MQTT 5 client over TLS with `cert`; each message's topic lands in `seen` (and sets `arrived`)."""
    connected = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4()}",
                         protocol=MQTTProtocolVersion.MQTTv5)
    client.tls_set(ca_certs=str(broker.pki.ca.path), certfile=str(cert.cert), keyfile=str(cert.key))
    client.on_connect = lambda c, u, f, rc, p: connected.set()
    def on_message(c: paho.Client, u: object, message: paho.MQTTMessage) -> None:
        seen.append(message.topic)
        if arrived is not None:
            arrived.set()

    client.on_message = on_message
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    assert connected.wait(10), "no CONNACK"
    return client


def test_a_lane_certificate_reads_its_own_commands_and_never_another_lanes(example_broker: ExampleBroker) -> None:
    pki, seen = example_broker.pki, list[str]()
    arrived = threading.Event()
    lane = tls_client(example_broker, pki.lane("store-001", "lane-01"), seen, arrived)
    cloud = tls_client(example_broker, pki.ca.issue("cloud", "cloud"), [])
    try:
        subscribed, pubacks = threading.Event(), list[int]()
        cloud.on_publish = lambda c, u, mid, rc, p: pubacks.append(rc.value)
        lane.on_subscribe = lambda c, u, mid, codes, p: subscribed.set()
        lane.subscribe("omo/v1/store-001/+/commands", 1)   # mosquitto grants it: its ACL filters each delivery
        assert subscribed.wait(10)
        for target in ("lane-02", "lane-01"):               # in this order: lane-02's would arrive first
            info = cloud.publish(f"omo/v1/store-001/{target}/commands", b'{"command": "catalog.refresh"}', qos=1)
            info.wait_for_publish(10)
        assert len(pubacks) == 2 and max(pubacks) < 0x80   # both accepted from the cloud's certificate
        assert arrived.wait(10)
        assert seen == ["omo/v1/store-001/lane-01/commands"]
    finally:
        for client in (lane, cloud):
            client.disconnect()
            client.loop_stop()
