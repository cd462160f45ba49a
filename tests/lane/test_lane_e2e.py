"""The whole lane as deployed: the daemon process, a pty scanner, mosquitto, the reference ingest.

A scan goes in as bytes on a pty and comes out as a confirmed event in the cloud's database.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.interpret.gtin import check_digit
from simulators.cloud.broker import MosquittoBroker
from simulators.cloud.catalog_data import write_lines
from simulators.devices.serial_pty import VirtualSerialScanner
from simulators.fixtures.daemon import AgentProcess
from simulators.fixtures.sync import IngestProcess

TEA = "490123456789" + str(check_digit("490123456789"))
BEER = "490123450001" + str(check_digit("490123450001"))
RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def import_catalog(tmp_path: Path) -> None:
    snapshot = write_lines(tmp_path / "catalog.jsonl", [
        {"gtin": "0" + TEA, "name": "Green tea", "price": 198, "tax_rate": "0.08", "version": 3},
        {"gtin": "0" + BEER, "name": "Beer", "price": 328, "tax_rate": "0.10", "age_restricted": True,
         "version": 3}], version=3)
    result = subprocess.run([sys.executable, "-m", "agent", "catalog", "import", str(snapshot), "--state-dir",
                             str(tmp_path / "state")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def scan_events(ingest: IngestProcess, count: int, timeout_s: float = 15) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ingest.db.exists():
            conn = sqlite3.connect(f"file:{ingest.db}?mode=ro", uri=True)
            try:
                rows = conn.execute("SELECT payload FROM events WHERE schema = 'omo.scan/1' ORDER BY seq").fetchall()
            except sqlite3.OperationalError:
                rows = []
            finally:
                conn.close()
            if len(rows) >= count:
                return [json.loads(r[0]) for r in rows]
        time.sleep(0.05)
    raise AssertionError(f"the ingest did not receive {count} scan events within {timeout_s} s")


@pytest.fixture
def lane(tmp_path: Path, write_config: Callable[..., Path], start_agent: Callable[..., AgentProcess],
         mqtt_broker: MosquittoBroker, serial_scanner_sim: VirtualSerialScanner) -> Callable[[], AgentProcess]:
    def start() -> AgentProcess:
        import_catalog(tmp_path)
        config = write_config(mqtt={"host": "127.0.0.1", "port": mqtt_broker.port, "confirm_timeout_s": 2},
                              devices=[{"name": "handheld", "driver": "serial", "port": serial_scanner_sim.path}])
        agent = start_agent(config)
        # Subscribed to the lane's commands only once connected: wait for that as well as for the scanner.
        wait_for_health(config, lambda h: all(h["components"][c]["state"] == "ok"
                                              for c in ("device:handheld", "mqtt")))
        return agent
    return start


def wait_for_health(config: Path, ready: Callable[[dict[str, Any]], bool], timeout_s: float = 10) -> dict[str, Any]:
    import urllib.request

    listen = next(line.split('"')[1] for line in config.read_text().splitlines() if line.startswith("listen"))
    deadline = time.monotonic() + timeout_s
    while True:
        with urllib.request.urlopen(f"http://{listen}/v1/health", timeout=5) as response:  # noqa: S310
            report: dict[str, Any] = json.load(response)
        if ready(report):
            return report
        assert time.monotonic() < deadline, report
        time.sleep(0.05)


def test_a_scanned_item_reaches_the_cloud_with_the_contract_fields(
        lane: Callable[[], AgentProcess], ingest: IngestProcess, serial_scanner_sim: VirtualSerialScanner) -> None:
    lane()
    serial_scanner_sim.scan(TEA, aim="]E0")
    [event] = scan_events(ingest, 1)
    assert event["schema"] == "omo.scan/1"
    assert uuid.UUID(event["event_id"])
    assert (event["store_id"], event["lane_id"], event["seq"]) == ("store-001", "lane-01", 2)  # 1: session started
    assert RFC3339_MS.match(event["occurred_at"])
    assert {k: event[k] for k in ("device", "symbology", "text", "kind", "gtin", "outcome")} == {
        "device": "handheld", "symbology": "ean13", "text": TEA, "kind": "product", "gtin": "0" + TEA,
        "outcome": "accepted"}


def test_refusals_are_published_with_their_reason(lane: Callable[[], AgentProcess], ingest: IngestProcess,
                                                  serial_scanner_sim: VirtualSerialScanner) -> None:
    lane()
    serial_scanner_sim.scan(BEER, aim="]E0")
    serial_scanner_sim.scan(TEA[:-1] + str((int(TEA[-1]) + 1) % 10), aim="]E0")
    beer, misprint = scan_events(ingest, 2)
    assert (beer["outcome"], beer["reason"]) == ("attendant", "age_restricted")
    assert (misprint["kind"], misprint["outcome"], misprint["reason"]) == ("invalid", "rejected", "bad_check_digit")


def test_a_lane_closed_by_the_cloud_refuses_scans_until_reopened(
        lane: Callable[[], AgentProcess], ingest: IngestProcess, mqtt_broker: MosquittoBroker,
        serial_scanner_sim: VirtualSerialScanner) -> None:
    agent = lane()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="cloud-ops")
    client.connect("127.0.0.1", mqtt_broker.port)
    client.loop_start()
    try:
        topic = "omo/v1/store-001/lane-01/commands"
        close = json.dumps({"command_id": "c-1", "command": "lane.close"})
        client.publish(topic, close, qos=1).wait_for_publish(5)
        wait_for_health(agent.config_path, lambda h: "lane closed" in h["components"]["pipeline"]["reason"])
        serial_scanner_sim.scan(TEA, aim="]E0")
        wait_for_health(agent.config_path,      # recorded while closed, before the lane opens again
                        lambda h: h["components"]["pipeline"]["counters"].get("scans_product", 0) >= 1)
        client.publish(topic, close, qos=1).wait_for_publish(5)   # the same command again: done once
        client.publish(topic, json.dumps({"command_id": "c-2", "command": "lane.open"}), qos=1).wait_for_publish(5)
        wait_for_health(agent.config_path, lambda h: h["components"]["pipeline"]["state"] == "ok")
        time.sleep(0.35)   # past the 300 ms bounce window (the behaviour): the same code again is a new scan
        serial_scanner_sim.scan(TEA, aim="]E0")
        closed, reopened = scan_events(ingest, 2)
    finally:
        client.loop_stop()
        client.disconnect()
    assert (closed["outcome"], closed["reason"]) == ("rejected", "lane_closed")
    assert reopened["outcome"] == "accepted"


def test_scans_made_while_the_broker_is_down_arrive_once_it_returns(
        lane: Callable[[], AgentProcess], ingest: IngestProcess, mqtt_broker: MosquittoBroker,
        serial_scanner_sim: VirtualSerialScanner) -> None:
    agent = lane()
    mqtt_broker.stop()
    for _ in range(3):
        serial_scanner_sim.scan(TEA, aim="]E0")
        time.sleep(0.35)          # the behaviour under test: beyond the bounce window, three real scans
    wait_for_health(agent.config_path, lambda h: h["components"]["pipeline"]["counters"].get("scans_product", 0) >= 3)
    mqtt_broker.start()
    events = scan_events(ingest, 3, timeout_s=30)
    assert [e["seq"] for e in events] == [2, 3, 4]     # seq 1 is the session's `started` event
    assert ingest.report()["gaps"] == []
    assert agent.proc.poll() is None
