"""The shape of the whole tree as tests: no import circle, the sync path's modules kept small, and simulators/
grouped by kind, each group importing only what its package docstring allows.

The graph is the one bench/code_shape.py reports (simulators/code_graph.py): every import statement is an
arrow, at module level, inside a function or under `if TYPE_CHECKING:`, so a circle cannot hide behind a
lazy import or a type hint.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from simulators.code_graph import ROOT, circles, import_graph

TREES = [ROOT / "agent", ROOT / "drivers", ROOT / "simulators"]


def test_no_import_circle_in_agent_drivers_or_simulators() -> None:
    found = circles(import_graph(TREES))
    assert found == [], found


def test_the_graph_sees_lazy_and_type_checking_imports(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from pkg.b import g\n    return g\n")
    (package / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import c\n")
    (package / "c.py").write_text("from . import a\n")
    assert circles(import_graph([package], tmp_path)) == [["pkg.a", "pkg.b", "pkg.c"]]


@pytest.mark.parametrize("module", sorted((ROOT / "agent" / "sync").glob("*.py")), ids=lambda p: p.name)
def test_no_sync_module_is_over_300_lines(module: Path) -> None:
    lines = len(module.read_text().splitlines())
    assert lines <= 300, f"agent/sync/{module.name} is {lines} lines: split out a part with one job"


SIMULATORS = ROOT / "simulators"
SIMULATOR_PACKAGES = sorted(p.parent for p in SIMULATORS.rglob("__init__.py"))

# What each group of simulators/ must not import (each package's docstring says the same in words).
GROUPS = ("cloud", "demo", "devices", "doubles", "fixtures", "fleet", "lanes", "powerloss", "trials")
FORBIDDEN = {
    "doubles": set(GROUPS) - {"doubles"},
    "devices": set(GROUPS) - {"devices"} | {"agent"},
    "powerloss": set(GROUPS) - {"powerloss"} | {"agent", "drivers"},
    "cloud": {"demo", "fixtures", "fleet", "lanes", "powerloss", "trials"},
    "fleet": set(GROUPS) - {"fleet", "cloud"},
    "lanes": {"demo", "fleet", "trials"},
    "trials": {"demo", "fleet"},
    "fixtures": {"demo", "fleet"},
    "demo": {"fixtures", "fleet", "lanes", "trials", "powerloss"},
}


def group_of(module: str) -> str:
    """`simulators.lanes.api` -> `lanes`; `agent.sync.relay` -> `agent`; `drivers.camera` -> `drivers`."""
    parts = module.split(".")
    return parts[1] if parts[0] == "simulators" and len(parts) > 2 else parts[0]


def test_the_simulators_root_holds_only_the_plugin_and_the_code_graph() -> None:
    assert sorted(p.name for p in SIMULATORS.glob("*.py")) == ["__init__.py", "code_graph.py", "pytest_plugin.py"]


@pytest.mark.parametrize("package", SIMULATOR_PACKAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_simulators_package_says_what_lives_there_and_what_it_may_import(package: Path) -> None:
    docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
    assert len(docstring) > 120, f"{package.relative_to(ROOT)}/__init__.py needs a paragraph: what lives here"
    assert "import" in docstring, f"{package.relative_to(ROOT)}/__init__.py must say what the package may import"


def test_each_group_of_simulators_imports_only_what_it_may() -> None:
    graph = import_graph([ROOT / "agent", ROOT / "drivers", SIMULATORS])
    broken = sorted(f"{module} -> {target}" for module, targets in graph.items() for target in targets
                    if group_of(target) in FORBIDDEN.get(group_of(module), set()) and module.startswith("simulators."))
    assert broken == [], broken
