"""The service units verify, are hardened to an exposure of 2.0 or lower, and install.sh is idempotent."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "omo-edge.service"
STATION_UNIT = ROOT / "systemd" / "omo-edge-attendant.service"
needs_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                   reason="systemd-analyze is not installed (apt-get install systemd)")


def unit_for_this_machine(tmp_path: Path, source: Path = UNIT) -> Path:
    """The unit with ExecStart pointing at this checkout's omo-edge, so verify can check it exists."""
    exe = shutil.which("omo-edge") or str(Path(__import__("sys").executable).parent / "omo-edge")
    unit = tmp_path / source.name
    unit.write_text(source.read_text().replace("/opt/omo-edge/venv/bin/omo-edge", exe))
    return unit


@needs_analyze
def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit_for_this_machine(tmp_path))],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@needs_analyze
def test_unit_exposure_score_is_2_or_lower(tmp_path: Path) -> None:
    result = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager",
                             str(unit_for_this_machine(tmp_path))], capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for omo-edge.service: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0, result.stdout


@needs_analyze
def test_the_attendant_unit_verifies_and_its_exposure_is_2_or_lower(tmp_path: Path) -> None:
    unit = unit_for_this_machine(tmp_path, STATION_UNIT)
    verify = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True,
                            timeout=60)
    assert verify.returncode == 0, verify.stderr
    result = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit)],
                            capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for omo-edge-attendant.service: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0, result.stdout


def test_the_attendant_unit_runs_unprivileged_without_capabilities() -> None:
    lines = STATION_UNIT.read_text().splitlines()
    for line in ("User=omo-edge", "NoNewPrivileges=yes", "CapabilityBoundingSet=", "AmbientCapabilities=",
                 "Restart=on-failure"):
        assert line in lines, line
    assert "--config /etc/omo-edge/attendant.toml" in STATION_UNIT.read_text()


@needs_analyze
def test_every_exposure_score_quoted_is_the_measured_one(tmp_path: Path) -> None:
    result = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager",
                             str(unit_for_this_machine(tmp_path))], capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for omo-edge.service: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    quoted = {name: re.findall(r"scores (?:this unit |it )?(\d+\.\d+) \(\"OK\"\)", (ROOT / name).read_text())
              for name in ("README.md", "docs/operations/install.md", "systemd/omo-edge.service")}
    assert all(quoted.values()), quoted
    assert {name: set(scores) for name, scores in quoted.items()} == {name: {match.group(1)} for name in quoted}


def test_unit_is_notify_with_watchdog_and_a_dedicated_user() -> None:
    text = UNIT.read_text()
    for line in ("Type=notify", "Restart=on-failure", "User=omo-edge", "StateDirectory=omo-edge",
                 "ConfigurationDirectory=omo-edge", "DevicePolicy=closed", "NoNewPrivileges=yes"):
        assert line in text.splitlines(), line
    assert re.search(r"^WatchdogSec=\d+s$", text, re.M)
    assert re.search(r"^LoadCredential=cloud.token:", text, re.M)


def test_install_is_idempotent_and_keeps_an_existing_config(tmp_path: Path) -> None:
    root = tmp_path / "root"
    run = ["bash", str(ROOT / "systemd" / "install.sh"), "--root", str(root), "--no-venv"]
    first = subprocess.run(run, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    config = root / "etc" / "omo-edge" / "agent.toml"
    config.write_text(config.read_text() + "\n# edited by store IT\n")
    second = subprocess.run(run, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    assert "kept the existing" in second.stdout
    assert config.read_text().endswith("# edited by store IT\n")
    token = root / "etc" / "omo-edge" / "credentials" / "cloud.token"
    assert oct(token.stat().st_mode & 0o777) == "0o600"
    assert (root / "etc" / "systemd" / "system" / "omo-edge.service").read_text() == UNIT.read_text()
    assert (root / "etc" / "udev" / "rules.d" / "99-omo-edge.rules").exists()


def test_install_leaves_site_udev_rules_in_a_local_file_it_never_overwrites(tmp_path: Path) -> None:
    root = tmp_path / "root"
    run = ["bash", str(ROOT / "systemd" / "install.sh"), "--root", str(root), "--no-venv"]
    subprocess.run(run, check=True, capture_output=True, timeout=60)
    rules = root / "etc" / "udev" / "rules.d"
    local = rules / "99-omo-edge-local.rules"
    assert local.read_text().startswith("#")            # comments only: it matches nothing until the site adds
    local.write_text(local.read_text() + 'SUBSYSTEM=="tty", ATTRS{idVendor}=="1a86", GROUP="omo-edge"\n')
    (rules / "99-omo-edge.rules").write_text("# edited by hand\n")
    subprocess.run(run, check=True, capture_output=True, timeout=60)
    assert local.read_text().endswith('ATTRS{idVendor}=="1a86", GROUP="omo-edge"\n')
    assert (rules / "99-omo-edge.rules").read_text() == (ROOT / "systemd" / "99-omo-edge.rules").read_text()
    subprocess.run(["bash", str(ROOT / "systemd" / "uninstall.sh"), "--root", str(root)], check=True,
                   capture_output=True, timeout=60)
    assert local.exists() and not (rules / "99-omo-edge.rules").exists()


def test_uninstall_keeps_state_and_config_unless_purged(tmp_path: Path) -> None:
    root = tmp_path / "root"
    subprocess.run(["bash", str(ROOT / "systemd" / "install.sh"), "--root", str(root), "--no-venv"], check=True,
                   capture_output=True, timeout=60)
    (root / "var" / "lib" / "omo-edge").mkdir(parents=True)
    subprocess.run(["bash", str(ROOT / "systemd" / "uninstall.sh"), "--root", str(root)], check=True,
                   capture_output=True, timeout=60)
    assert not (root / "etc" / "systemd" / "system" / "omo-edge.service").exists()
    assert (root / "etc" / "omo-edge" / "agent.toml").exists()
    assert (root / "var" / "lib" / "omo-edge").exists()
    subprocess.run(["bash", str(ROOT / "systemd" / "uninstall.sh"), "--root", str(root), "--purge"], check=True,
                   capture_output=True, timeout=60)
    assert not (root / "etc" / "omo-edge").exists()


def test_udev_rules_keep_modemmanager_off_serial_scanners() -> None:
    rules = (ROOT / "systemd" / "99-omo-edge.rules").read_text()
    serial = next(line for line in rules.splitlines() if line.startswith('SUBSYSTEM=="tty"'))
    assert 'ENV{ID_MM_DEVICE_IGNORE}="1"' in serial
    device_rules = [line for line in rules.splitlines() if line.startswith("  GROUP=") or "video4linux" in line]
    assert len(device_rules) == 5          # serial and HID scanners, cameras, the Delcom lane light, printers
    assert all('GROUP="omo-edge"' in line for line in device_rules)
