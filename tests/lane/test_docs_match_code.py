"""What the docs say about the running agent is read from the code, so the two cannot drift apart: the health
components the docs list, the clock's reasons the troubleshooting page quotes, and no issue numbers (which mean
nothing to a reader of the repository).
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

from agent.clock import TIME_ERROR, KernelClock, judge_clock
from simulators.fixtures.metrics import Scrape

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
TROUBLESHOOTING = (DOCS / "operations" / "troubleshooting.md").read_text()
DEVICE = "device:<name>"


def components_in_code() -> set[str]:
    """Every component name the agent registers: `health.component("x")` and `supervisor.start("x", ...)`
    calls, with an f-string `device:{...}` read as `device:<name>`."""
    names: set[str] = set()
    for path in (ROOT / "agent").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args):
                continue
            receiver = ast.unparse(node.func.value)
            if not (node.func.attr == "component" and receiver.endswith("health")
                    or node.func.attr == "start" and receiver.endswith("supervisor")):
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
            elif isinstance(first, ast.JoinedStr) and ast.unparse(first).startswith("f'device:"):
                names.add(DEVICE)
    return names


def backticked(text: str) -> set[str]:
    return set(re.findall(r"`([a-z_]+(?::<name>)?)`", text))


def test_the_code_registers_the_components_the_docs_expect_to_find() -> None:
    """The reader of the code above: it must see the components every lane has, or the tests below prove nothing."""
    assert {"api", "pipeline", "session", "store", "clock", "catalog", "mqtt", "relay", "disk", DEVICE} <= \
        components_in_code()


@pytest.mark.broker
@pytest.mark.timeout(90)
def test_a_running_lane_reports_no_component_the_code_reader_missed(lane_scrape: Scrape) -> None:
    """A real lane (scanner, TLS broker, ingest): each component its health reports was found in the code."""
    running = {s.labels["component"] for s in lane_scrape.named("omo_edge_component_state")}
    assert "clock" in running and "device:handheld" in running
    assert {DEVICE if name.startswith("device:") else name for name in running} <= components_in_code()


def test_the_troubleshooting_page_lists_every_component_health_reports() -> None:
    listed = re.search(r"^Components: (.*?)\n(?=\S*Monitoring)", TROUBLESHOOTING, re.M | re.S)
    assert listed, "the troubleshooting page's `Components:` paragraph"
    assert backticked(listed.group(1)) == components_in_code()


def test_monitoring_md_lists_every_component_health_reports() -> None:
    text = (DOCS / "monitoring.md").read_text()
    listed = re.search(r"components as in `/v1/health` \((.*?)\)", text)
    assert listed, "the omo_edge_component_state row of docs/monitoring.md"
    assert backticked(listed.group(1)) == components_in_code()


def test_the_clock_reasons_the_troubleshooting_page_quotes_are_the_ones_the_agent_gives() -> None:
    section = TROUBLESHOOTING.split("## Clock not synchronised", 1)[1].split("\n## ", 1)[0]
    quoted = re.findall(r"^\| `([^`]+)` \|", section, re.M)       # `...` stands for the rest, `N` for a number
    patterns = [re.escape(q).replace(re.escape("..."), ".*").replace(re.escape(" N "), r" \d+ ") for q in quoted]
    reasons = [judge_clock(KernelClock(TIME_ERROR, 0, 1000), False).reason,
               judge_clock(KernelClock(0, 0, 9_000_000), False).reason,
               judge_clock(None, False).reason]
    assert len(patterns) == len(reasons) == 3
    for pattern, reason in zip(patterns, reasons, strict=True):
        assert re.fullmatch(pattern, reason), (pattern, reason)


ISSUE_NUMBER = re.compile(r"\b[Ii]ssues? ?#?\d")
# An upstream project's bug tracker is something a reader can look up; only this repository's own are not.
UPSTREAM = re.compile(r"eclipse-mosquitto/mosquitto issue \d+")


@pytest.mark.parametrize("tree", ["docs", "agent", "drivers", "simulators", "tests", "bench", "README.md",
                                  "config", "systemd"])
def test_no_doc_or_comment_cites_an_issue_number(tree: str) -> None:
    files = subprocess.run(["git", "ls-files", tree], cwd=ROOT, capture_output=True, text=True, check=True)
    cited = [f"{name}:{n}: {line.strip()}" for name in files.stdout.split()
             if (ROOT / name).suffix in {".md", ".py", ".yml", ".yaml", ".toml", ".sh", ".json", ".service", ""}
             and (ROOT / name).is_file()
             for n, line in enumerate((ROOT / name).read_text(errors="replace").splitlines(), 1)
             if ISSUE_NUMBER.search(UPSTREAM.sub("", line))]
    assert not cited, "say what the thing is, not which issue asked for it:\n" + "\n".join(cited)
