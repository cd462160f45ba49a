"""`omo-edge simulate cloud` beside a real daemon: the printed config is enough to sell, the lane's QR is paid by
the simulated app, the service's notification reaches the lane as a `payment.notify` command, the sale
arrives at the cloud's ingest, and Ctrl-C stops every process the cloud started.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from simulators.cloud.broker import mosquitto_path
from simulators.cloud.store_catalog import TEA
from simulators.devices.serial_pty import VirtualSerialScanner
from simulators.doubles.ports import free_port
from simulators.fixtures.daemon import AgentProcess
from simulators.fixtures.shop import api, until

pytestmark = pytest.mark.skipif(mosquitto_path() is None, reason="mosquitto is not installed (apt-get install "
                                "mosquitto); the fake cloud's broker needs it")


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen([sys.executable, "-m", "agent", "simulate", "cloud", "--dir", str(tmp_path / "cloud")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while not lines or lines[-1] != "Ctrl-C stops it.":
        assert time.monotonic() < deadline and proc.poll() is None, "".join(lines)
        lines.append(proc.stdout.readline().rstrip("\n"))
    try:
        yield proc, "\n".join(lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        proc.stdout.close()


def test_a_lane_pointed_at_the_fake_cloud_sells_by_qr_and_the_notification_wakes_it(
        cloud: tuple[subprocess.Popen[str], str], tmp_path: Path, start_agent: Callable[..., AgentProcess],
        serial_scanner_sim: VirtualSerialScanner) -> None:
    proc, printed = cloud
    snippet = printed.split("# agent.toml: point a lane at this cloud\n", 1)[1].rsplit("\nCtrl-C", 1)[0]
    payments_url = re.search(r"payment service (\S+)", printed).group(1)  # type: ignore[union-attr]
    config = tmp_path / "agent.toml"
    config.write_text(f'[agent]\nstore_id = "store-001"\nlane_id = "lane-01"\nstate_dir = "{tmp_path / "state"}"\n\n'
                      f'[api]\nlisten = "127.0.0.1:{free_port()}"\n\n{snippet}'
                      "poll_interval_s = 30      # only the relayed notification can make it quick\n\n"
                      f'[[devices]]\nname = "handheld"\ndriver = "serial"\nport = "{serial_scanner_sim.path}"\n')
    start_agent(config)
    until(lambda: api(config, "GET", "/v1/health")[1]["components"].get("catalog", {}).get("state") == "ok",
          "the catalog pulled from the fake cloud", 30)
    until(lambda: api(config, "GET", "/v1/health")[1]["components"].get("mqtt", {}).get("state") == "ok", "mqtt")
    serial_scanner_sim.scan(TEA, aim="]E0")
    until(lambda: api(config, "GET", "/v1/session")[1]["lines"], "the line")
    status, paying = api(config, "POST", "/v1/session/pay", {"method": "wallet_qr"})
    assert status == 200 and paying["payment"]["status"] == "waiting", paying
    code_id = paying["payment"]["qr_payload"].rsplit("/", 1)[1]
    started = time.monotonic()
    with urllib.request.urlopen(urllib.request.Request(f"{payments_url}/sim/codes/{code_id}/pay", data=b"",
                                                       method="POST"), timeout=10) as answer:  # noqa: S310
        assert answer.status == 200
    until(lambda: api(config, "GET", "/v1/session")[1]["state"] == "paid", "paid", 10)
    assert time.monotonic() - started < 10, "woken by the notification, not the 30 s poll"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(20) == 0
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path / "cloud")], capture_output=True, text=True)
    assert leftovers.stdout.strip() == "", f"processes left running: {leftovers.stdout}"
