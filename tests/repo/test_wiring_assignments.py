"""Objects in agent/ are wired through their constructors: no code assigns an attribute of another object.

A collaborator patched in after construction makes statement order matter silently (move the metrics above the
line that set the catalog's age and they used a default). This test walks every module of agent/ and fails on
an assignment `a.b = ...` or `a.b.c = ...` whose root `a` is not `self`/`cls`, unless the (file, target) pair
is listed below with the reason it is not wiring.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from agent.health import HealthRegistry

AGENT = Path(__file__).resolve().parents[2] / "agent"

OWN_RECORD = "a mutable record this module creates and owns (not a collaborator)"
STDLIB_API = "a third-party or standard-library object whose documented API is attribute assignment"

# (path under agent/, the target as written) -> why it is not post-construction wiring.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("api/fanout.py", "listener.ready"): OWN_RECORD,
    ("api/fanout.py", "listener.dropped"): OWN_RECORD,
    ("api/fanout.py", "listener.stalled"): OWN_RECORD,
    ("log.py", "handler.omo_edge"): "marks a logging handler as the agent's own (logging's API)",
    ("payment/simulated.py", "entry.result"): OWN_RECORD,
    ("payment/simulated.py", "entry.charges"): OWN_RECORD,
    ("session/pricing/promotions.py", "unit.price"): OWN_RECORD,
    ("session/pricing/promotions.py", "unit.used"): OWN_RECORD,
    ("sync/relay.py", "book.last_seq"): OWN_RECORD,
    ("sync/relay.py", "book.reused_up_to"): OWN_RECORD,
    ("sync/relay.py", "book.reused_written"): OWN_RECORD,
    ("sync/relay.py", "book.hwm"): OWN_RECORD,
    ("sync/relay.py", "book.hwm_written"): OWN_RECORD,
    ("sync/loop_io.py", "client._sock"): STDLIB_API,
    ("sync/loop_io.py", "client.on_socket_register_write"): STDLIB_API,
    ("sync/loop_io.py", "client.on_socket_close"): STDLIB_API,
    ("sync/mqtt/publisher.py", "client.max_inflight_messages"): STDLIB_API,
    ("sync/mqtt/publisher.py", "client.connect_timeout"): STDLIB_API,
    ("sync/mqtt/publisher.py", "client.on_connect"): STDLIB_API,
    ("sync/mqtt/publisher.py", "client.on_publish"): STDLIB_API,
    ("sync/mqtt/publisher.py", "client.on_message"): STDLIB_API,
    ("sync/mqtt/publisher.py", "client.on_disconnect"): STDLIB_API,
    ("sync/mqtt/client.py", "properties.CorrelationData"): STDLIB_API,
    ("sync/tls.py", "context.minimum_version"): STDLIB_API,
    ("sync/tls.py", "context.server_name"): STDLIB_API,
    ("station/link.py", "context.minimum_version"): STDLIB_API,
    ("station/link.py", "context.server_name"): STDLIB_API,
    ("station/link.py", "client.on_connect"): STDLIB_API,
    ("station/link.py", "client.on_disconnect"): STDLIB_API,
    ("station/link.py", "client.on_message"): STDLIB_API,
    ("station/link.py", "properties.ResponseTopic"): STDLIB_API,
    ("station/link.py", "properties.CorrelationData"): STDLIB_API,
    ("station/service.py", "context.minimum_version"): STDLIB_API,
}


def _module_names(tree: ast.Module) -> set[str]:
    """Names bound at module level: assigning an attribute of the module's own object is its own business."""
    names: set[str] = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) else []
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def foreign_assignments(source: str) -> list[tuple[int, str]]:
    """(line, target) of each assignment to an attribute whose root is neither self/cls nor a module name."""
    tree = ast.parse(source)
    own = {"self", "cls"} | _module_names(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            targets = [node.target]
        else:
            continue
        for target in targets:
            for item in target.elts if isinstance(target, ast.Tuple) else [target]:
                if not isinstance(item, ast.Attribute):
                    continue
                root: ast.expr = item
                while isinstance(root, ast.Attribute):
                    root = root.value
                if not (isinstance(root, ast.Name) and root.id in own):
                    found.append((node.lineno, ast.unparse(item)))
    return found


def test_the_check_sees_patching_after_construction() -> None:
    source = "def wire(a, b):\n    a.observe = b\n    a.b.c += 1\n    self.x = 1\n"
    assert foreign_assignments(source) == [(2, "a.observe"), (3, "a.b.c")]


def test_no_module_in_agent_assigns_another_objects_attribute() -> None:
    found = [f"agent/{path.relative_to(AGENT)}:{line}: {target}"
             for path in sorted(AGENT.rglob("*.py"))
             for line, target in foreign_assignments(path.read_text())
             if (str(path.relative_to(AGENT)), target) not in EXCEPTIONS]
    assert found == [], "pass these through the constructor instead:\n" + "\n".join(found)


def test_every_exception_is_still_needed() -> None:
    seen = {(str(path.relative_to(AGENT)), target)
            for path in sorted(AGENT.rglob("*.py")) for _, target in foreign_assignments(path.read_text())}
    assert sorted(set(EXCEPTIONS) - seen) == []


def test_a_health_probe_goes_in_when_its_component_is_made() -> None:
    registry = HealthRegistry("test")
    clock = registry.component("clock", probe=lambda: {"synchronised": True})
    assert registry.component("clock") is clock
    assert clock.probe is not None and clock.probe() == {"synchronised": True}
    with pytest.raises(ValueError, match="its probe goes in when it is made"):
        registry.component("clock", probe=dict)
