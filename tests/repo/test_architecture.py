"""The shape of agent/ as tests: the import-linter contracts, the size of the root, a docstring per package.

The contracts live in pyproject.toml (`[tool.importlinter]`) and are explained in docs/architecture.md.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AGENT = ROOT / "agent"
# The capability packages, and the session's packages by role (rules, pricing, records).
PACKAGES = sorted(p.parent for p in [*AGENT.glob("*/__init__.py"), *AGENT.glob("session/*/__init__.py")])


def test_every_import_linter_contract_is_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 broken" in result.stdout, result.stdout


def test_the_root_of_agent_holds_at_most_fifteen_modules() -> None:
    modules = sorted(p.name for p in AGENT.glob("*.py"))
    assert len(modules) <= 15, modules


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_every_package_says_what_lives_there_and_what_it_may_import(package: Path) -> None:
    docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
    assert len(docstring) > 120, f"{package.name}/__init__.py needs a paragraph: what lives here, what it imports"
    assert "import" in docstring, f"{package.name}/__init__.py must say what the package may import"
