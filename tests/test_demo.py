"""README's first command ends in `omo-edge demo`: it must show a shopper's scans going through the real agent."""

from __future__ import annotations

import subprocess
import sys


def test_demo_runs_a_shopper_session_through_the_real_agent_and_stops_by_itself() -> None:
    result = subprocess.run([sys.executable, "-m", "agent", "demo"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "a real pty" in out
    assert out.count("shopper scans") >= 4
    assert "symbology=ean13 text=4901234567894" in out
    assert "symbology=ean8 text=49012347" in out
    assert "health: " in out
