"""The register install path as store IT follows it, through the INSTALLED venv (never the editable one).

The wheel is built from a clean copy of the tree and installed by `systemd/install.sh --root` into a fake root
(simulators/fixtures/install.py, once per session); every command here runs the venv that install made.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from simulators.cloud.store_catalog import TEA, write_store_catalog
from simulators.devices.serial_pty import VirtualSerialScanner
from simulators.doubles.ports import free_port
from simulators.fixtures.daemon import AgentProcess, NotifySocket, render_toml
from simulators.fixtures.install import REPO, InstalledRoot, tracked_files
from simulators.fixtures.shop import api, until

pytestmark = pytest.mark.slow

IMPORTED_SIMULATORS = """
import json, sys
from agent.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print("\\n" + json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "simulators")))
"""


def test_the_wheel_holds_every_module_and_data_file_of_the_tree(installed_root: InstalledRoot) -> None:
    with zipfile.ZipFile(installed_root.wheel) as wheel:
        names = set(wheel.namelist())
    wanted = {name for name in tracked_files(REPO) if name.split("/")[0] in ("agent", "drivers", "simulators")}
    assert wanted - names == set()
    assert not any(name.startswith(("tests/", "bench/", "config/")) for name in names)


def test_install_puts_the_program_on_the_admins_path(installed_root: InstalledRoot) -> None:
    wrapper = installed_root.root / "usr" / "local" / "bin" / "omo-edge"
    assert wrapper.stat().st_mode & 0o777 == 0o755
    text = wrapper.read_text()
    assert 'exec /opt/omo-edge/venv/bin/omo-edge "$@"' in text.splitlines()
    assert "CREDENTIALS_DIRECTORY" in text and "/etc/omo-edge/credentials" in text
    assert installed_root.program.exists()
    config = installed_root.etc / "agent.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o640       # root:omo-edge on a real register


def test_the_installed_program_answers_its_version_without_loading_a_simulator(
        installed_root: InstalledRoot) -> None:
    version = installed_root.run("--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("omo-edge ")
    probe = subprocess.run([str(installed_root.python), "-c", IMPORTED_SIMULATORS, "config", "check", "--config",
                            str(installed_root.etc / "agent.toml")], capture_output=True, text=True, timeout=60,
                           env=installed_root.env(), cwd=installed_root.root)
    assert json.loads(probe.stdout.strip().splitlines()[-1]) == [], probe.stderr
    located = subprocess.run([str(installed_root.python), "-c", "import agent; print(agent.__file__)"],
                             capture_output=True, text=True, timeout=60, cwd=installed_root.root)
    assert located.stdout.startswith(str(installed_root.root / "opt" / "omo-edge" / "venv"))


def test_the_installed_example_passes_config_check_and_names_its_placeholders(
        installed_root: InstalledRoot) -> None:
    result = installed_root.run("config", "check", "--config", str(installed_root.etc / "agent.toml"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "warning" in out.lower()
    for placeholder in ("store-001", "lane-01", "cloud.token", "is empty", "cloud.example", "omo-edge doctor",
                        "/dev/serial/by-id/usb-Example_Scanner-if00", "adapter = \"none\""):
        assert placeholder in out, placeholder


def installed_config(installed_root: InstalledRoot, tmp_path: Path, **sections: object) -> Path:
    """A lane config for the fake root: state under it, the API on a free loopback port."""
    base: dict[str, object] = {
        "agent": {"store_id": "store-7", "lane_id": "lane-3",
                  "state_dir": str(installed_root.root / "var" / "lib" / "omo-edge")},
        "api": {"listen": f"127.0.0.1:{free_port()}"},
        **sections,
    }
    path = tmp_path / "agent.toml"
    path.write_text(render_toml(base))
    os.chmod(path, 0o640)
    return path

    path = tmp_path / "agent.toml"
    path.write_text(render_toml(base))
    os.chmod(path, 0o640)
    return path


def test_the_installed_agent_runs_until_ready(installed_root: InstalledRoot, tmp_path: Path,
                                              start_agent: Callable[..., AgentProcess],
                                              notify_socket: NotifySocket) -> None:
    config = installed_config(installed_root, tmp_path)
    agent = start_agent(config, program=(str(installed_root.program),))
    assert agent.proc.poll() is None
    status = installed_root.run("status", "--config", str(config))
    assert status.returncode == 0, status.stdout + status.stderr
    assert "store-7" in status.stdout and "lane-3" in status.stdout



def test_the_journey_through_the_installed_venv_install_check_run_sell_status_backup_uninstall(
        installed_root: InstalledRoot, tmp_path: Path, start_agent: Callable[..., AgentProcess],
        serial_scanner_sim: VirtualSerialScanner) -> None:
    # The journey's own copy of the installed root, so uninstalling it leaves the session's root to the others.
    # (The copy's scripts still run the session root's venv: their #! lines name it.)
    root = tmp_path / "root"
    shutil.copytree(installed_root.root, root, symlinks=True)
    register = InstalledRoot(root=root, wheel=installed_root.wheel, seconds=installed_root.seconds)
    state = root / "var" / "lib" / "omo-edge"
    config = installed_config(register, tmp_path, agent={"store_id": "store-7", "lane_id": "lane-3",
                                                         "state_dir": str(state), "allow_simulators": True},
                              payment={"adapter": "simulated"},
                              devices=[{"name": "handheld", "driver": "serial", "port": serial_scanner_sim.path,
                                        "bounce_ms": 0}])
    imported = register.run("catalog", "import", str(write_store_catalog(tmp_path / "store.jsonl")),
                            "--config", str(config))
    assert imported.returncode == 0, imported.stderr
    checked = register.run("config", "check", "--config", str(config))
    assert checked.returncode == 0 and checked.stdout.startswith(f"{config}: ok"), checked.stderr

    agent = start_agent(config, program=(str(register.program),))
    until(lambda: api(config, "GET", "/v1/health")[1]["components"].get("device:handheld", {}).get("state") == "ok",
          "the pty scanner open")
    serial_scanner_sim.scan(TEA, aim="]E0")
    until(lambda: api(config, "GET", "/v1/session")[1]["lines"], "the scanned line")
    code, paid = api(config, "POST", "/v1/session/pay", {"method": "simulated"})
    assert code == 200 and paid["state"] == "paid", paid

    status = register.run("status", "--config", str(config))
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith("store store-7  lane lane-3  status ")
    backup = register.run("backup", str(tmp_path / "backup"), "--config", str(config))
    assert backup.returncode == 0, backup.stderr
    assert (tmp_path / "backup" / "lane.db").stat().st_size > 0
    assert agent.stop() == 0

    removed = subprocess.run(["bash", str(REPO / "systemd" / "uninstall.sh"), "--root", str(root)],
                             capture_output=True, text=True, timeout=60)
    assert removed.returncode == 0, removed.stderr
    for gone in ("opt/omo-edge", "usr/local/bin/omo-edge", "etc/systemd/system/omo-edge.service",
                 "etc/udev/rules.d/99-omo-edge.rules"):
        assert not (root / gone).exists(), gone
    assert (state / "lane.db").stat().st_size > 0          # sales the cloud may not have confirmed stay
    assert (root / "etc" / "omo-edge" / "agent.toml").exists()
