"""The broker's MQTT 5 limits from its CONNACK: Receive Maximum caps the window; no packet over its maximum size."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from agent.health import State
from agent.session.records.sales import record_sale
from simulators.cloud.scripted_broker import ScriptedBroker, mqtt_property
from simulators.doubles.waiting import wait_until
from simulators.lanes.sync import mqtt_section, running_lane
from simulators.lanes.writer import sale

pytestmark = [pytest.mark.timeout(60)]


async def test_a_broker_receive_maximum_below_the_window_is_kept_to_and_the_drain_completes(tmp_path: Path) -> None:
    # mosquitto announces its max_inflight_messages this way (20 by default) but does not enforce it; a broker
    # that does would drop the connection of a lane sending its whole window of 100.
    broker = ScriptedBroker(connack_properties=mqtt_property(0x21, 3), hold_s=0.005)
    port = await broker.start()
    try:
        section = mqtt_section(port, delivery="broker", inflight_window=100)
        async with running_lane(tmp_path, section) as lane:
            for n in range(60):
                await lane.db.write(record_sale, sale(n))
            lane.relay.wake()
            await lane.wait_drained(20)
            assert lane.publisher.probe()["broker_receive_maximum"] == 3
    finally:
        await broker.close()
    assert broker.most_unacknowledged <= 3
    sales = [json.loads(payload) for topic, payload in broker.published if topic.endswith("/sales")]
    assert sorted(event["seq"] for event in sales) == list(range(1, 61))


def big_sale(n: int, lines: int) -> dict[str, object]:
    body = sale(n)
    body["lines"] = [{"gtin": "04901234567894", "qty": 1, "unit_price": 198, "total": 198}] * lines
    return body


async def test_an_event_over_the_broker_maximum_packet_size_stays_in_the_outbox_and_the_rest_go(
        tmp_path: Path) -> None:
    # A broker that closes the connection on a bigger packet: sent, the big sale would bring the lane down with it,
    # and the window would go again on each reconnect.
    broker = ScriptedBroker(connack_properties=mqtt_property(0x27, 2000, width=4), maximum_packet_size=2000)
    port = await broker.start()
    try:
        async with running_lane(tmp_path, mqtt_section(port, delivery="broker")) as lane:
            await lane.db.write(record_sale, sale(1))
            await lane.db.write(record_sale, big_sale(2, lines=60))   # about 4 KB
            for n in range(3, 21):
                await lane.db.write(record_sale, sale(n))
            lane.relay.wake()
            await wait_until(lambda: lane.unconfirmed() == 1, 10)
            assert lane.publisher.probe()["broker_maximum_packet_size"] == 2000
            assert lane.relay_health.state == State.DEGRADED
            assert "sales event seq 2 cannot be sent" in lane.relay_health.reason
            assert "maximum packet size of 2000 bytes" in lane.relay_health.reason
            assert lane.relay_health.counters["publish_too_large"] == 1
            assert lane.mqtt_health.counters["connects"] == 1   # never disconnected
    finally:
        await broker.close()
    assert broker.oversized == 0
    sales = [json.loads(payload) for topic, payload in broker.published if topic.endswith("/sales")]
    assert sorted(event["seq"] for event in sales) == [1, *range(3, 21)]
    conn = sqlite3.connect(tmp_path / "lane.db")
    assert conn.execute("SELECT seq FROM outbox WHERE state = 0").fetchall() == [(2,)]
    conn.close()
