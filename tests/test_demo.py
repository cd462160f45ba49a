"""README's first command ends in `omo-edge demo`: the whole OMO journey through the real agent, checked by its
own summary; and `--interactive` scans typed codes until Ctrl-C, which stops every process the demo started."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import pytest

from simulators.cloud.broker import mosquitto_path
from simulators.cloud.store_catalog import BATTERIES

pytestmark = pytest.mark.skipif(mosquitto_path() is None,
                                reason="mosquitto is not installed (apt-get install mosquitto; .ci/bootstrap does it)")


def test_the_demo_runs_the_whole_journey_and_checks_it_against_the_cloud() -> None:
    result = subprocess.run([sys.executable, "-m", "agent", "demo", "--pace", "0.35"], capture_output=True,
                            text=True, timeout=180)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert re.search(r"screen +http://127\.0\.0\.1:\d+/", out), "the screen's URL comes first"
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
        proc.stdin.write(BATTERIES + "\n")                     # typed, then sent by the pty scanner
        proc.stdin.flush()
        while not any("AA batteries x4 -> accepted" in line for line in seen[-5:]):
            assert time.monotonic() < deadline, "".join(seen[-20:])
            seen.append(proc.stdout.readline())
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode in (0, 130), rest
    leftovers = subprocess.run(["pgrep", "-af", "omo-edge-demo-"], capture_output=True, text=True).stdout
    assert leftovers.strip() == "", f"still running after Ctrl-C: {leftovers}"
