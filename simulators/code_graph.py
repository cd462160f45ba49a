"""The import graph of the source tree, read from the files (no import runs), and its import circles.

Why one place: bench/code_shape.py reports a package's graph before and after a change of layout, and a test
holds the tree to "no import circle"; both must count the same arrows. Every import statement is an arrow,
wherever it sits: at module level, inside a function (a lazy import is a circle all the same, only hidden
until the call) and under `if TYPE_CHECKING:` (a reader follows it like any other).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_name(path: Path, root: Path = ROOT) -> str:
    """`agent/sync/relay.py` -> `agent.sync.relay`; a package's `__init__.py` is the package."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path, name: str) -> set[str]:
    """Every module a file imports, absolute names, `from x import y` giving both x and x.y."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def import_graph(package_dirs: Iterable[Path], root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the modules among `package_dirs` it imports (a package's __init__ counts as a module).

    `from agent.session import visits` names the package and the module: the module is the arrow.
    """
    files = {module_name(p, root): p for d in package_dirs for p in sorted(d.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        targets = {t for t in imported_names(path, name) if t in files and t != name}
        graph[name] = {t for t in targets if not any(other.startswith(t + ".") for other in targets)}
    return graph


def package_graph(package_dir: Path, root: Path = ROOT) -> dict[str, set[str]]:
    """The graph inside one package (its modules and subpackages, recursively)."""
    return import_graph([package_dir], root)


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative: every group of modules that reach each other (a lone module is a group)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work: list[tuple[str, Iterable[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(iter(children), None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                groups.append(group)
    return groups


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles: each group of more than one module that import each other, sorted."""
    return sorted(sorted(g) for g in strongly_connected(graph) if len(g) > 1)


def floors(graph: dict[str, set[str]], groups: list[set[str]]) -> int:
    """The longest chain of arrows, counted in modules, with each cycle folded into one node."""
    owner = {member: i for i, group in enumerate(groups) for member in group}
    folded = {i: {owner[t] for m in group for t in graph[m]} - {i} for i, group in enumerate(groups)}
    depth: dict[int, int] = {}

    def visit(node: int) -> int:
        if node not in depth:
            depth[node] = 1 + max((visit(t) for t in folded[node]), default=0)
        return depth[node]

    sys.setrecursionlimit(10_000)
    return max((visit(n) for n in folded), default=0)
