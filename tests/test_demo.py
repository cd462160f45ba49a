"""README's first command ends in `omo-edge demo`: a shopper's visit through the real agent, confirmed by the cloud."""

from __future__ import annotations

import subprocess
import sys

import pytest

from simulators.cloud.broker import mosquitto_path


@pytest.mark.skipif(mosquitto_path() is None,
                    reason="mosquitto is not installed (apt-get install mosquitto; .ci/bootstrap does it)")
def test_demo_runs_a_visit_end_to_end_and_every_event_reaches_the_cloud_once() -> None:
    result = subprocess.run([sys.executable, "-m", "agent", "demo"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "(a real pty)" in out and "lane ready: catalog version 1 loaded over HTTP" in out
    assert "member M-0001 (gold, 1200 points)" in out
    assert out.count("Green tea 500 ml  198 JPY (member 178 JPY)") == 2
    assert "Pork loin (weighed in store)  498 JPY" in out
    assert "attendant (age_restricted)" in out and "attendant (expired)" in out
    assert "rejected (bad_check_digit)" in out and "attendant (not_in_catalog)" in out
    assert out.count("typ=staff") == 3 and "typ=coupon" in out
    assert "payment **************3456" in out and "281234567890123456" not in out
    # 356 tea - 20 coupon + 120 chocolate + 498 pork + 328 beer + 158 yoghurt; tax 8 %: 1112 x 8/108 = 82.4,
    # 10 %: 328 x 10/110 = 29.8 -> 82 + 29.
    assert "PAID 1,440 JPY (tax 111 JPY)" in out
    # the scans, the session events, the sale and the payment intent's final state (omo.payment/1)
    assert "cloud: the ingest holds 26 of 26 events from this lane, seq 1..26, gaps []" in out
    assert "lane:  0 events still waiting" in out
