"""The example kiosk unit verifies, starts after the agent as its own user, and keeps the screen on loopback."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "omo-edge-kiosk.service"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed (apt-get install systemd)")
def test_the_kiosk_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    # cage is on the register, not on CI: verify the rest with the browser as the command.
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/usr/bin/cage -s -- /usr/bin/chromium", "/bin/true"))
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_screen_starts_after_the_agent_as_its_own_user() -> None:
    lines = UNIT.read_text().splitlines()
    for line in ("User=omo-kiosk", "Wants=omo-edge.service", "Restart=always", "NoNewPrivileges=yes"):
        assert line in lines, line
    assert any(line.startswith("After=omo-edge.service") for line in lines)


def test_the_browser_opens_the_page_on_loopback_and_reaches_nothing_else() -> None:
    text = UNIT.read_text()
    assert re.search(r"--kiosk\b", text) and "http://127.0.0.1:8765/" in text
    assert "IPAddressDeny=any" in text and "IPAddressAllow=localhost" in text
