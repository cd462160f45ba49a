"""README's first command ends in `omo-edge demo`: the whole OMO journey through the real agent, checked by its
own summary; and `--interactive` scans typed codes until Ctrl-C, which stops every process the demo started."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright
from test_kiosk_harness import CHROMIUM, LAUNCH_ARGS, needs_chromium

from simulators.cloud.broker import mosquitto_path
from simulators.cloud.store_catalog import BATTERIES

pytestmark = pytest.mark.skipif(mosquitto_path() is None,
                                reason="mosquitto is not installed (apt-get install mosquitto; .ci/bootstrap does it)")


def stop(proc: subprocess.Popen[Any]) -> None:
    """A demo a failed test leaves running: Ctrl-C first, which stops every process it started (a kill would
    leave its broker and ingest behind), then a kill if that did not end it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_the_demo_runs_the_whole_journey_and_checks_it_against_the_cloud() -> None:
    result = subprocess.run([sys.executable, "-m", "agent", "demo", "--pace", "0.35"], capture_output=True,
                            text=True, timeout=180)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert re.search(r"screen +http://127\.0\.0\.1:\d+/", out), "the screen's URL comes first"
    assert "Japanese: [api] screen_language" in out, "the screen speaks the config's default language"
    assert re.search(r"the journey takes about \d+ s: open http://127\.0\.0\.1:\d+/ now", out), \
        "not a terminal: no wait, and it says how long there is to open the screen"
    assert "(a real pty)" in out and "lane ready: catalog version 1" in out
    assert "scan via overhead: member" in out                  # the app's QR, read by the camera
    assert "-> attendant (age_restricted)" in out and "-> rejected (bad_check_digit)" in out
    assert "screen: Coupon added." in out and "the app: COMPLETED" in out
    # 2 teas at the member price 280, 2 onigiri for 300, 350 g of beef at 398/100 g = 1,393, beer 298,
    # less the 100 coupon.
    assert "PAID ¥2,171" in out
    assert "payment **************3456" in out and "281234567890123456" not in out
    assert "Compartment A3 is open" in out
    waiting = [int(n) for n in re.findall(r"uplink down; outbox: (\d+) events waiting", out)]
    assert waiting and max(waiting) > 0, "the offline sale waits in the outbox"
    assert "uplink up; outbox: 0 events waiting" in out.rsplit("every event confirmed", 1)[1]
    assert out.count("PAID ") == 3
    pngs = [Path(p) for p in re.findall(r"receipt printed: (\S+\.png)", out)]
    assert len(pngs) == 3 and all(p.stat().st_size > 1000 for p in pngs), "each sale's receipt drawn to a PNG"
    last = out.strip().splitlines()[-1]
    assert last.startswith("demo: OK, 3 sales"), last


def test_interactive_scans_typed_codes_and_ctrl_c_stops_everything() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "agent", "demo", "--pace", "0.35", "--interactive"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + 180
    try:
        while not any("the lane stays open" in line for line in seen):
            assert time.monotonic() < deadline and proc.poll() is None, "".join(seen)
            seen.append(proc.stdout.readline())
        listing = "".join(seen)
        assert "codes to type" in listing and BATTERIES in listing and "AA batteries x4" in listing
        assert "staff" in listing and "a wallet app's code" in listing
        proc.stdin.write(BATTERIES + "\n")                     # typed, then sent by the pty scanner
        proc.stdin.flush()
        while not any("AA batteries x4 -> accepted" in line for line in seen[-5:]):
            assert time.monotonic() < deadline, "".join(seen[-20:])
            seen.append(proc.stdout.readline())
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
    finally:
        stop(proc)
    assert proc.returncode in (0, 130), rest
    leftovers = subprocess.run(["pgrep", "-af", "omo-edge-demo-"], capture_output=True, text=True).stdout
    assert leftovers.strip() == "", f"still running after Ctrl-C: {leftovers}"


@needs_chromium
def test_in_a_terminal_the_demo_waits_for_the_screen_which_speaks_the_configs_language() -> None:
    """Run as a person would, in a terminal (a pty): the journey waits until a browser has the screen open."""
    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    proc = subprocess.Popen([sys.executable, "-m", "agent", "demo", "--pace", "0.35", "--wait-s", "60"],
                            stdin=terminal, stdout=terminal, stderr=terminal, env=env, close_fds=True)
    os.close(terminal)
    out = b""

    def read_until(pattern: bytes, timeout_s: float) -> re.Match[bytes]:
        nonlocal out
        deadline = time.monotonic() + timeout_s
        while (found := re.search(pattern, out)) is None:
            assert time.monotonic() < deadline and proc.poll() is None, out.decode(errors="replace")
            if select.select([controller], [], [], 0.5)[0]:
                with contextlib.suppress(OSError):
                    out += os.read(controller, 65536)
        return found

    try:
        url = read_until(rb"screen +(http://127\.0\.0\.1:\d+/)", 60).group(1).decode()
        read_until(rb"waiting up to 60 s for a browser", 60)
        time.sleep(2)
        assert b"1. shows the app's member QR" not in out, "the journey waits for the screen"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1024, "height": 768})
                opened = time.monotonic()
                page.goto(url)
                expect(page.locator("#welcome-title")).to_have_text("いらっしゃいませ")  # [api] screen_language
                read_until(rb"the screen is open: the journey starts", 10)
                assert time.monotonic() - opened < 10
                expect(page.locator("#lines")).to_contain_text("緑茶 500ml", timeout=30_000)
            finally:
                browser.close()
        read_until(rb"demo: (OK|FAILED)[^\r\n]*", 120)
        assert proc.wait(30) == 0, out.decode(errors="replace")[-2000:]
    finally:
        stop(proc)
        os.close(controller)
