"""Schemathesis against docs/openapi.yaml on the whole agent (agent.app.start, its real HTTP server on
127.0.0.1, a pty scanner, the simulated payment): no 5xx, no response outside the document, no valid input
refused, no invalid input taken; afterwards the lane still prices a known basket right, its sale is recorded,
lane.db passes integrity_check and its outbox seq is gap-free. bench/api_fuzz.py runs the same, longer."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from simulators.cloud.store_catalog import TEA
from simulators.cloud.tokens import TokenIssuer
from simulators.lanes.api import ThreadedLane, known_basket_problems
from simulators.trials.api_fuzz import Target, fuzz, run_cli

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def lane(tmp_path: Path) -> Iterator[ThreadedLane]:
    with ThreadedLane(tmp_path, TokenIssuer()) as running:
        yield running


def documented_operations() -> set[str]:
    """Every operation docs/openapi.yaml documents, as the fuzz report names them ("POST /v1/session/pay")."""
    document = yaml.safe_load((Path(__file__).parents[2] / "docs" / "openapi.yaml").read_text())
    return {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item
            if method in ("get", "post", "put", "patch", "delete")}


def test_schemathesis_finds_no_fault_and_the_lane_still_prices_right(lane: ThreadedLane) -> None:
    report = fuzz(Target(lane.base_url, lambda: lane.issuer.staff("S-0001")), max_examples=50)
    assert not report.faults, "\n".join(f"{fault}\n    {curl}" for fault, curl in report.faults.items())
    assert report.total >= 600 and set(report.cases) == documented_operations(), report.cases
    code, cases, summary = run_cli(lane.base_url, max_examples=30)
    assert code == 0 and cases >= 500, summary
    assert known_basket_problems(lane) == []


def test_the_known_basket_check_sees_a_wrong_price(lane: ThreadedLane) -> None:
    """The control: the same check on a lane whose catalog was changed under it reports the wrong total."""
    state = lane.work / "state"
    catalog = state / (state / "catalog.current").read_text().strip()
    conn = sqlite3.connect(catalog)
    try:
        with conn:
            conn.execute("UPDATE products SET price = price + 1 WHERE gtin = ?", ("0" + TEA,))
    finally:
        conn.close()
    problems = known_basket_problems(lane)
    assert len(problems) == 2 and "priced" in problems[0] and "sale recorded" in problems[1], problems
