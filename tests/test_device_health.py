"""The running agent shows each device's state and counters in /v1/health, through unplug and replug."""

from __future__ import annotations

import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.api.settings import ApiSection
from agent.commands.status import get_json
from simulators.devices.hid import VirtualKeyboardWedge
from simulators.devices.serial_pty import VirtualSerialScanner


def device_health(api: ApiSection, name: str) -> dict[str, Any]:
    try:
        component: dict[str, Any] = get_json(api, "/v1/health")["components"].get(f"device:{name}", {})
    except OSError:
        return {}
    return component


def wait_until(check: Callable[[], bool], log: Path, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out; the agent said:\n" + log.read_text(errors="replace")
        time.sleep(0.05)


def test_device_counters_and_state_show_in_health(write_config: Callable[..., Path]) -> None:
    with VirtualSerialScanner("handheld") as serial, VirtualKeyboardWedge("wedge") as wedge:
        path = write_config(agent={"allow_simulators": True}, devices=[
            {"name": "handheld", "driver": "serial", "port": serial.path},
            {"name": "wedge", "driver": "sim+hid", "path": wedge.path}])
        api = ApiSection(tomllib.loads(path.read_text())["api"]["listen"])
        # Started without NOTIFY_SOCKET: this test reads health, not systemd messages.
        log = path.with_suffix(".log")
        with log.open("wb") as out:
            agent = subprocess.Popen([sys.executable, "-m", "agent", "run", "--config", str(path)],
                                     stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: device_health(api, "handheld").get("state") == "ok"
                       and device_health(api, "wedge").get("state") == "ok", log)
            serial.scan("4006381333931", aim="]E0")
            wedge.type("12345670")
            wait_until(lambda: device_health(api, "handheld")["counters"].get("good_scan_count") == 1
                       and device_health(api, "wedge")["counters"].get("good_scan_count") == 1, log)
            serial.unplug()
            wait_until(lambda: device_health(api, "handheld").get("state") == "down", log)
            down = device_health(api, "handheld")
            assert device_health(api, "wedge")["state"] == "ok"       # one device down leaves the other working
            serial.replug()
            wait_until(lambda: device_health(api, "handheld").get("state") == "ok", log)
            serial.scan("12345670", aim="]E4")
            wait_until(lambda: device_health(api, "handheld")["counters"].get("good_scan_count") == 2, log)
            up = device_health(api, "handheld")
        finally:
            agent.terminate()
            assert agent.wait(10) == 0
    assert down["details"]["unavailable"] == "unplugged" and "Fix:" in down["reason"]
    assert up["counters"]["reconnect_count"] == 1
    assert up["details"]["resolved_port"].startswith("/dev/pts/")
