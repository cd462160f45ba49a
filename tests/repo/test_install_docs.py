"""What the install docs say holds for the code and the files: defaults, the admin's commands, the fixes
`doctor` and the drivers give for a device the service may not open, and the licence."""

from __future__ import annotations

import errno
import re
import tomllib
from pathlib import Path

from agent.commands.doctor import ACCESS_FIX
from agent.payment.settings import PaymentSection
from drivers.base import UnavailableReason, cannot_open
from drivers.hid import _FIXES as HID_FIXES

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "docs" / "operations" / "install.md"


def test_the_payment_default_quoted_in_install_md_is_the_codes() -> None:
    quoted = re.findall(r"`\[payment\] adapter`: \*\*the default, `([a-z]+)`", INSTALL.read_text())
    assert quoted == [PaymentSection().adapter]


def readme_install_block() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("## Install on a register", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


def test_readme_install_lines_run_omo_edge_as_installed_on_path_with_sudo() -> None:
    runs = [part.strip() for line in readme_install_block() for part in line.split("&&") if "omo-edge " in part
            and not part.strip().startswith(("sudo systemd/", "sudoedit", "sudo systemctl"))]
    assert runs, readme_install_block()
    for run in runs:
        # install.sh puts the wrapper on PATH; the config is root:omo-edge 0640 and the credentials root's.
        assert run.startswith("sudo omo-edge "), run
        assert "/opt/omo-edge" not in run


def test_no_fix_for_a_device_the_service_may_not_open_adds_it_to_a_group() -> None:
    refused = PermissionError(errno.EACCES, "Permission denied")
    opened = [str(cannot_open("scanner 'x'", "/dev/ttyX", refused, thing=thing)) for thing in ("port", "device")]
    fixes = [*ACCESS_FIX.values(), *opened, HID_FIXES[UnavailableReason.PERMISSION]]
    for fix in fixes:
        assert "add the service user" not in fix and "group" not in fix.replace("group omo-edge", ""), fix
        assert "99-omo-edge-local.rules" in fix, fix


def test_the_licence_file_is_the_one_pyproject_declares() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]["text"]
    assert declared == "Apache-2.0"
    licence = (ROOT / "LICENSE").read_text()
    assert licence.split()[:3] == ["Apache", "License", "Version"] and "Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence
