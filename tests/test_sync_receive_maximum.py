"""The broker's MQTT 5 Receive Maximum caps the lane's window: never more QoS 1 publishes unacknowledged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.sales import record_sale
from simulators.lane_writer import sale
from simulators.scripted_broker import ScriptedBroker, mqtt_property
from simulators.sync_lane import mqtt_section, running_lane

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
