"""The shape of the whole tree as tests: no import circle, and the sync path's modules kept small.

The graph is the one bench/code_shape.py reports (simulators/code_graph.py): every import statement is an
arrow, at module level, inside a function or under `if TYPE_CHECKING:`, so a circle cannot hide behind a
lazy import or a type hint.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators.code_graph import ROOT, circles, import_graph

TREES = [ROOT / "agent", ROOT / "drivers", ROOT / "simulators"]

# Circles another change removes: checkout and controller are being cut apart. Each entry must still be a
# circle (the last test says so), so the list shrinks to nothing and is then deleted with that change.
KNOWN: list[list[str]] = [["agent.session.checkout", "agent.session.controller"]]


def test_no_import_circle_in_agent_drivers_or_simulators() -> None:
    found = circles(import_graph(TREES))
    assert [c for c in found if c not in KNOWN] == [], found


def test_every_known_circle_is_still_there() -> None:
    found = circles(import_graph(TREES))
    assert [c for c in KNOWN if c not in found] == [], "remove the circle from KNOWN: it is gone"


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
