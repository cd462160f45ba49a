"""MQTT user name and password from a secret file, against a real mosquitto that allows no anonymous client."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.session.records.scans import record_scan
from simulators.cloud.broker import mosquitto_path
from simulators.doubles.ports import free_port
from simulators.doubles.waiting import wait_until
from simulators.lanes.sync import mqtt_section, running_lane
from simulators.lanes.writer import scan

pytestmark = pytest.mark.skipif(mosquitto_path() is None or subprocess.run(["which", "mosquitto_passwd"],
                                                                            capture_output=True).returncode != 0,
                                reason="mosquitto and mosquitto_passwd are not installed (apt-get install mosquitto)")


@pytest.fixture
def password_broker(tmp_path: Path) -> Iterator[int]:
    """mosquitto on a free loopback port that only lets lane-01 in, with password 's3cret'."""
    passwords = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwords), "lane-01", "s3cret"], check=True,
                   capture_output=True, timeout=10)
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"user root\npersistence false\nlistener {port} 127.0.0.1\nallow_anonymous false\n"
                    f"password_file {passwords}\n")
    proc = subprocess.Popen([mosquitto_path() or "mosquitto", "-c", str(conf)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "mosquitto did not start"
            time.sleep(0.02)
    yield port
    proc.terminate()
    proc.wait(5)


def secret(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mqtt.password"
    path.write_text(text + "\n")
    path.chmod(0o600)
    return path


async def test_the_right_password_from_the_secret_file_connects_and_publishes(password_broker: int,
                                                                              tmp_path: Path) -> None:
    section = mqtt_section(password_broker, username="lane-01", password_file=secret(tmp_path, "s3cret"),
                           delivery="broker")
    async with running_lane(tmp_path, section) as lane:
        await lane.db.write(record_scan, scan(1))
        lane.relay.wake()
        await lane.wait_drained(10)
        assert lane.mqtt_health.state == "ok"


async def test_a_wrong_password_is_refused_and_named_in_health(password_broker: int, tmp_path: Path) -> None:
    section = mqtt_section(password_broker, username="lane-01", password_file=secret(tmp_path, "wrong"))
    async with running_lane(tmp_path, section) as lane:
        await lane.db.write(record_scan, scan(1))
        await wait_until(lambda: "broker refused the connection" in lane.mqtt_health.reason, 10)
        assert "Fix: check [mqtt] username and password_file" in lane.mqtt_health.reason
        assert "wrong" not in lane.mqtt_health.reason, "the password never appears in health or logs"
        assert lane.unconfirmed() == 1, "nothing counts as sent when the broker refuses the connection"
