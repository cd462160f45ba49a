"""One switch on the kind of code: the shell's table (agent/session/scan_kinds.py) has exactly one entry per
meaning the router can return, its changes are pure rules, and no other module on a scan's path switches on
the meaning's type. A new kind of code without its entry fails here, not at the lane."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

import pytest

from agent.interpret import meanings
from agent.session.scan_kinds import KINDS, kind_of

ROOT = Path(__file__).resolve().parents[2]
MEANING_TYPES = set(get_args(meanings.Meaning))
# Where a scan's kind used to be asked with isinstance; the table answers it now.
SCAN_PATH = ["agent/session/pipeline.py", "agent/session/scan_kinds.py", "agent/session/rules/scan_changes.py"]


def test_the_table_has_one_entry_per_meaning_the_router_returns() -> None:
    assert MEANING_TYPES, "agent.interpret.meanings.Meaning should be a union of the meanings"
    assert set(KINDS) == MEANING_TYPES


def test_every_kind_computes_its_change_with_a_pure_rule() -> None:
    for meaning_type, kind in KINDS.items():
        assert kind.change.__module__.startswith("agent.session.rules."), meaning_type


def test_a_meaning_is_looked_up_by_its_exact_type() -> None:
    code = meanings.PaymentCode(rule="wallet", masked="****1234", code="281234561234")
    assert kind_of(code) is KINDS[meanings.PaymentCode]
    with pytest.raises(KeyError):
        kind_of(object())  # type: ignore[arg-type]


@pytest.mark.parametrize("path", SCAN_PATH)
def test_no_module_on_the_scan_path_switches_on_the_meaning_type(path: str) -> None:
    names = {t.__name__ for t in MEANING_TYPES}
    tree = ast.parse((ROOT / path).read_text())
    switches = [node.lineno for node in ast.walk(tree)
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance"
                and len(node.args) == 2 and names & {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}]
    assert switches == [], f"{path} asks a meaning its type at lines {switches}: add a column to scan_kinds.KINDS"
