"""A command loads only what it uses: `--version`, `config check` and `status` import no simulator.

A production install has the simulators' modules but not their extras (rich, numpy, pillow ...): a command that
imports a simulator it never uses can crash on a register, and it slows every start-up of `omo-edge status`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import json, sys
from agent.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
loaded = sorted(name for name in sys.modules if name == "simulators" or name.startswith("simulators."))
print("\\n" + json.dumps({"code": code, "simulators": loaded}))
"""


def loaded_simulators(*argv: str) -> list[str]:
    """Run the CLI in a fresh interpreter and list the simulators.* modules it imported."""
    result = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=60)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return list(report["simulators"])


@pytest.mark.parametrize("argv", [("--version",), ("--help",), ("config", "check", "--help")])
def test_building_the_parser_imports_no_simulator(argv: tuple[str, ...]) -> None:
    assert loaded_simulators(*argv) == []


def test_config_check_imports_no_simulator(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(f'[agent]\nstore_id = "s1"\nlane_id = "l1"\nstate_dir = "{tmp_path}"\n')
    assert loaded_simulators("config", "check", "--config", str(config)) == []
