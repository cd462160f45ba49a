"""The attendant station with 16 and 64 (fake) lanes on a real mosquitto, the page in Debian's Chromium.

    .venv/bin/python bench/attendant.py [--lanes 16 64] [--calls 60] [--idle-s 30]

1. Call to tile: a call raised on a fake lane (simulators/lanes/attendant_lanes.py; its retained status
   published) to the lane's tile showing it on the page, timed in the page by a MutationObserver and the next
   animation frame (pixels about to be painted), p50/p99. Beside it, in the same run, the broker's own round trip
   (publish to a topic this client subscribes to, QoS 1).
2. Approve tapped to the lane: from the tap on the tile's Approve (the page's click handler, in the page's clock)
   to the fake lane applying the command, and to the page showing the lane's answer, p50/p99.
3. The station process (`omo-edge attendant`, its own process): CPU and RSS while 64 lanes are idle, and the
   broker messages per second that the lanes' status costs (published on change, heartbeat 30 s otherwise).
Loopback only; the figures are this machine's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from playwright.async_api import Page, async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulators.cloud.broker import MosquittoBroker, end_process, wait_listening  # noqa: E402
from simulators.lanes.attendant_lanes import AttendantLanes  # noqa: E402
from simulators.lanes.station import StationKit  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync"]
OBSERVER_JS = """() => {
  window.__seen = {};
  window.__tapped = {};
  const tiles = document.getElementById('tiles');
  new MutationObserver(() => {
    for (const call of tiles.querySelectorAll('.call[data-call]')) {
      const id = call.closest('.tile').dataset.lane + '/' + call.dataset.call;
      if (!(id in window.__seen)) {
        window.__seen[id] = 0;
        requestAnimationFrame(() => { window.__seen[id] = Date.now(); });
      }
    }
  }).observe(tiles, {childList: true, subtree: true});
  const notice = document.getElementById('notice');
  new MutationObserver(() => { if (notice.textContent) window.__answered = Date.now(); })
    .observe(notice, {childList: true, characterData: true, subtree: true});
  document.addEventListener('click', (e) => {
    const call = e.target.closest('.call');
    if (call) window.__tapped[call.closest('.tile').dataset.lane + '/' + call.dataset.call] = Date.now();
  }, true);
}"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def line(name: str, values: list[float]) -> str:
    return (f"{name:<44} n={len(values):<4} p50={pct(values, 0.5):7.1f} ms  p99={pct(values, 0.99):7.1f} ms  "
            f"max={max(values):7.1f} ms")


def broker_round_trip(port: int, samples: int = 200) -> list[float]:
    """QoS 1 publish to a topic this client subscribes to, until it comes back: the broker's own cost."""
    arrived = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-rtt", protocol=MQTTProtocolVersion.MQTTv5)
    client.on_message = lambda *_: arrived.set()
    client.connect("127.0.0.1", port)
    client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)   # as the station and lanes do
    client.subscribe("bench/rtt", qos=1)
    client.loop_start()
    time.sleep(0.3)
    times = []
    for _ in range(samples):
        arrived.clear()
        started = time.perf_counter()
        client.publish("bench/rtt", b"x" * 600, qos=1)
        arrived.wait(5)
        times.append((time.perf_counter() - started) * 1000)
    client.loop_stop()
    client.disconnect()
    return times


class StatusCounter:
    """Counts the lanes' status messages on the broker (what the status costs it in messages per second)."""

    def __init__(self, port: int) -> None:
        self.count = 0
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-count",
                                  protocol=MQTTProtocolVersion.MQTTv5)
        self.client.on_message = self._message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("omo/v1/+/+/attendant/status", qos=0)
        self.client.loop_start()

    def _message(self, _c: object, _u: object, msg: paho.MQTTMessage) -> None:
        if not msg.retain:
            self.count += 1

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for text in Path(f"/proc/{pid}/status").read_text().splitlines():
        if text.startswith("VmRSS:"):
            return int(text.split()[1]) / 1024
    return 0.0


def start_station(kit: StationKit, log: Path) -> subprocess.Popen[bytes]:
    """`omo-edge attendant` as its own process, so its CPU and RSS are its own."""
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "agent", "attendant", "--config", str(kit.config)],
                                stdout=out, stderr=out)


async def run(lanes_n: int, calls: int, idle_s: float, directory: Path) -> None:
    broker = MosquittoBroker(directory / f"broker-{lanes_n}")
    broker.start()
    kit = StationKit(directory / f"station-{lanes_n}", broker.port, reply_timeout_s=5.0)
    station = start_station(kit, directory / f"station-{lanes_n}.log")
    lane_ids = [f"lane-{n:02d}" for n in range(1, lanes_n + 1)]
    lanes = AttendantLanes("127.0.0.1", broker.port, kit.store_id, lane_ids, station_keys=[kit.station_public],
                           staff_keys=kit.staff_key_paths, heartbeat_s=30.0, remote={"unknown_item": "remote"})
    try:
        wait_listening(station, "127.0.0.1", kit.port, directory / f"station-{lanes_n}.log", "station", 20)
        rtt = broker_round_trip(broker.port)
        lanes.start()
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
            page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
            await page.goto(kit.url + "/")
            await page.fill("#token", kit.badge("S-1", name="Bench"))
            await page.click("#login-form button[type=submit]")
            await page.wait_for_function(f"() => document.querySelectorAll('#tiles .tile').length === {lanes_n}",
                                         timeout=30000)
            await page.evaluate(OBSERVER_JS)
            to_tile, to_lane, to_answer = await calls_loop(page, lanes, lane_ids, calls)
            counter = StatusCounter(broker.port)
            cpu0, wall0 = cpu_s(station.pid), time.monotonic()
            await asyncio.sleep(idle_s)
            cpu = (cpu_s(station.pid) - cpu0) / (time.monotonic() - wall0) * 100
            rate = counter.count / (time.monotonic() - wall0)
            counter.stop()
            await browser.close()
        print(f"--- {lanes_n} lanes ---")
        print(line("broker round trip (QoS 1, same run)", rtt))
        print(line("call raised -> tile painted", to_tile))
        print(line("approve tapped -> lane applied", to_lane))
        print(line("approve tapped -> answer shown on the page", to_answer))
        print(f"station idle with {lanes_n} lanes: CPU {cpu:.2f} % of one core, RSS {rss_mb(station.pid):.1f} MB; "
              f"lane status on the broker: {rate:.2f} messages/s (heartbeat 30 s, published on change)")
    finally:
        lanes.stop()
        end_process(station, 15)
        broker.kill()


async def calls_loop(page: Page, lanes: AttendantLanes, lane_ids: list[str],
                     calls: int) -> tuple[list[float], list[float], list[float]]:
    to_tile: list[float] = []
    to_lane: list[float] = []
    to_answer: list[float] = []
    for n in range(calls):
        lane_id = lane_ids[(n * 7) % len(lane_ids)]
        started = time.time() * 1000
        intervention = lanes.raise_call(lane_id, "unknown_item")
        key = f"{lane_id}/{intervention}"
        await page.wait_for_function(f"() => window.__seen['{key}'] > 0", timeout=10000)
        to_tile.append(await page.evaluate(f"window.__seen['{key}']") - started)
        before = len(lanes.lanes[lane_id].applied_at)
        await page.evaluate("() => { document.getElementById('notice').textContent = ''; window.__answered = 0; }")
        await page.click(f"#tile-{lane_id} .call[data-call='{intervention}'] button.approve")
        await page.wait_for_function("() => document.getElementById('notice').textContent.length > 0", timeout=10000)
        answered = await page.evaluate("window.__answered")
        tapped = await page.evaluate(f"window.__tapped['{key}']")
        to_answer.append(answered - tapped)
        if len(lanes.lanes[lane_id].applied_at) > before:
            to_lane.append(lanes.lanes[lane_id].applied_at[-1] * 1000 - tapped)
        await page.wait_for_selector(f"#tile-{lane_id} .call[data-call='{intervention}']", state="detached")
    return to_tile, to_lane, to_answer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lanes", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--idle-s", type=float, default=30.0)
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: apt-get install chromium", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        for lanes_n in args.lanes:
            asyncio.run(run(lanes_n, args.calls, args.idle_s, Path(tmp)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
