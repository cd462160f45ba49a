"""The same lane against several real brokers: mosquitto with MQTT 5 and with 3.1.1, amqtt (3.1.1 only), and
RabbitMQ 3.10 with its MQTT plugin (3.1.1 only; where Debian's rabbitmq-server is installed).

Scans and sales stream through the lane's real publisher and relay to the reference ingest (over 3.1.1 too),
with end-to-end acks, and the broker is killed once mid-stream. Every event must arrive exactly once after
de-duplication, and seq must be gap-free. Then the errors a broker produces on a wrong setting, each against
a real broker that produces it: the refused protocol version, a listener that hangs up without a CONNACK,
bad credentials, and a refused client ID.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from aiohttp import web
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from agent.sync.publisher_link import connack_refused
from agent.sync.settings import MqttSection
from simulators.cloud.amqtt_broker import AmqttBroker, amqtt_path
from simulators.cloud.broker import MosquittoBroker, mosquitto_path
from simulators.cloud.rabbitmq_broker import RabbitMqBroker, rabbitmq_path
from simulators.doubles.waiting import wait_until
from simulators.fixtures.sync import IngestProcess
from simulators.lanes.sync import mqtt_section, running_lane
from simulators.trials.sync_checks import assert_all_delivered_once, stream

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]
needs_mosquitto = pytest.mark.skipif(mosquitto_path() is None, reason="mosquitto is not installed (apt-get install "
                                     "mosquitto; .ci/bootstrap does it)")
needs_rabbitmq = pytest.mark.skipif(rabbitmq_path() is None, reason="rabbitmq-server is not installed (apt-get "
                                    "install rabbitmq-server; a node takes ~10 s to start, so CI runs amqtt instead)")
needs_amqtt = pytest.mark.skipif(amqtt_path() is None, reason="amqtt is not installed (pip install -e '.[dev]')")

BROKERS: dict[str, tuple[Callable[[Path], Any], str, bool]] = {
    # name: (start a broker in a directory, the lane's protocol, the ingest may use $share)
    "mosquitto-5": (lambda d: MosquittoBroker(d), "5", True),
    "mosquitto-3.1.1": (lambda d: MosquittoBroker(d), "3.1.1", True),
    "amqtt-3.1.1": (lambda d: AmqttBroker(d), "3.1.1", False),
    "rabbitmq-3.1.1": (lambda d: RabbitMqBroker(d), "3.1.1", False),
}


@pytest.fixture(params=[pytest.param("mosquitto-5", marks=needs_mosquitto),
                        pytest.param("mosquitto-3.1.1", marks=needs_mosquitto),
                        pytest.param("amqtt-3.1.1", marks=needs_amqtt),
                        pytest.param("rabbitmq-3.1.1", marks=[needs_rabbitmq, pytest.mark.slow])])
def broker_under_test(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Any, str, bool]]:
    make, protocol, share = BROKERS[request.param]
    broker = make(tmp_path / "broker")
    broker.start()
    try:
        yield request.param, broker, protocol, share
    finally:
        broker.stop()


async def test_a_lane_streams_through_each_broker_and_loses_nothing_when_it_is_killed(
        broker_under_test: tuple[str, Any, str, bool], tmp_path: Path) -> None:
    _, broker, protocol, share = broker_under_test
    ingest = IngestProcess(broker, tmp_path / "ingest.db", share=share)
    ingest.start()
    try:
        section = mqtt_section(broker.port, protocol=protocol)
        async with running_lane(tmp_path, section) as lane:
            stop = asyncio.Event()
            writer = asyncio.create_task(stream(lane, stop))
            await wait_until(lambda: ingest.report()["events"] >= 40, 30)
            broker.kill()                                  # mid-stream: what it held in memory is gone
            await asyncio.sleep(0.3)                       # the outage itself: the lane keeps selling through it
            broker.start()
            await wait_until(lambda: lane.mqtt_health.counters.get("connects", 0) >= 2, 30)   # back on the broker
            stop.set()
            sales = await writer
            await lane.wait_drained(60)
            await wait_until(lambda: ingest.report()["events"] == ingest.report()["max_seq"] > 2 * sales - 1, 30)
        assert_all_delivered_once(tmp_path / "lane.db", ingest)
    finally:
        ingest.stop()


async def connect_error(section: MqttSection, tmp_path: Path) -> str:
    """The lane's health reason after its first failed connection."""
    async with running_lane(tmp_path, section) as lane:
        await wait_until(lambda: lane.mqtt_health.state.value == "down", 15)
        return lane.mqtt_health.reason


@needs_amqtt
async def test_a_broker_refusing_mqtt_5_is_named_with_the_protocol_key_to_set(tmp_path: Path) -> None:
    """amqtt (3.1.1 only) hangs up on the lane's MQTT 5 CONNECT (it cannot parse its will after the properties),
    and answers a bare MQTT 5 CONNECT with CONNACK "unsupported protocol version": both name the key to set."""
    broker = AmqttBroker(tmp_path / "amqtt")
    broker.start()
    try:
        reason = await connect_error(mqtt_section(broker.port), tmp_path)
        code = await asyncio.to_thread(bare_connack, broker.port)
    finally:
        broker.stop()
    assert "closed before CONNACK" in reason and 'protocol = "3.1.1"' in reason, reason
    assert "TLS" not in reason and "certificate" not in reason, reason
    assert code == 0x84
    refused = connack_refused(code, "5")
    assert "0x84 (unsupported protocol version)" in refused and 'set [mqtt] protocol = "3.1.1"' in refused


def bare_connack(port: int) -> int:
    """The CONNACK reason code a broker gives an MQTT 5 CONNECT without a will."""
    answered: list[int] = []
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="probe", protocol=MQTTProtocolVersion.MQTTv5)
    client.on_connect = lambda c, u, flags, rc, props: answered.append(rc.value)
    client.connect("127.0.0.1", port)
    deadline = time.monotonic() + 10
    while not answered and time.monotonic() < deadline:
        client.loop(0.1)
    client.disconnect()
    return answered[0] if answered else -1


@contextlib.asynccontextmanager
async def not_mqtt() -> Any:
    """A listener that is not an MQTT broker: it answers the CONNECT with an HTTP error and hangs up."""
    async def anything(request: web.Request) -> web.Response:
        return web.Response(status=400)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    finally:
        await runner.cleanup()


async def test_a_connection_closed_before_connack_without_tls_does_not_blame_tls(tmp_path: Path) -> None:
    async with not_mqtt() as port:
        reason = await connect_error(mqtt_section(port), tmp_path)
    assert "closed before CONNACK" in reason and 'protocol = "3.1.1"' in reason, reason
    assert "TLS" not in reason and "certificate" not in reason, reason


def secured_mosquitto(directory: Path, extra: list[str]) -> MosquittoBroker:
    broker = MosquittoBroker(directory)
    broker.conf.write_text(broker.conf.read_text().replace("allow_anonymous true", "allow_anonymous false")
                           + "\n".join(extra) + "\n")
    return broker


@needs_mosquitto
@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
async def test_bad_credentials_are_named_with_their_fix(protocol: str, tmp_path: Path) -> None:
    passwords = tmp_path / "passwd"
    passwords.write_text("lane-01:not-a-hash\n")       # no user matches: every login is refused
    broker = secured_mosquitto(tmp_path / "m", [f"password_file {passwords}"])
    broker.start()
    secret = tmp_path / "password"
    secret.write_text("wrong")
    secret.chmod(0o600)
    try:
        reason = await connect_error(mqtt_section(broker.port, protocol=protocol, username="lane-01",
                                                  password_file=secret), tmp_path)
    finally:
        broker.stop()
    assert "broker refused the connection" in reason and "password_file" in reason, reason
    assert ("0x86" in reason or "0x87" in reason) and "TLS" not in reason


@needs_mosquitto
async def test_a_client_id_the_broker_does_not_take_names_client_id(tmp_path: Path) -> None:
    """mosquitto's clientid_prefixes refuses other IDs with "not authorized" (0x87), which the fix covers."""
    broker = MosquittoBroker(tmp_path / "m")
    broker.conf.write_text(broker.conf.read_text() + "clientid_prefixes store-\n")
    broker.start()
    try:
        reason = await connect_error(mqtt_section(broker.port, protocol="3.1.1"), tmp_path)
    finally:
        broker.stop()
    assert "broker refused the connection: reason 0x87" in reason and "client_id" in reason, reason
    assert "0x85" in connack_refused(0x85, "3.1.1") and "own [mqtt] client_id" in connack_refused(0x85, "3.1.1")


@needs_rabbitmq
@pytest.mark.slow
async def test_rabbitmq_3_10_hanging_up_on_mqtt_5_is_not_called_a_tls_failure(tmp_path: Path) -> None:
    """The failure this issue started from: RabbitMQ 3.10 closes an MQTT 5 CONNECT without a CONNACK."""
    broker = RabbitMqBroker(tmp_path / "rabbit")
    broker.start()
    try:
        reason = await connect_error(mqtt_section(broker.port), tmp_path)
    finally:
        broker.stop()
    assert "closed before CONNACK" in reason and 'protocol = "3.1.1"' in reason, reason
    assert "TLS" not in reason and "certificate" not in reason, reason
