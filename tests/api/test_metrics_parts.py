"""The metrics' parts on a lane in this process (session_lane: real lane.db and catalog, no broker): what one
callback counts, and a scrape that survives a part it cannot read.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from agent.api.lane_collector import Sources
from agent.api.metrics import LaneMetrics
from agent.health import HealthRegistry
from agent.payment.intents import Intent, IntentState
from agent.sync.disk import DiskGuard
from simulators.fixtures.session import SessionLane


@pytest.fixture
def metrics(session_lane: SessionLane) -> LaneMetrics:
    assert session_lane.lane_db is not None and session_lane.catalog is not None
    return LaneMetrics(Sources(HealthRegistry("t"), session_lane.lane_db, session_lane.catalog), "JPY")


def scrape(metrics: LaneMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def intent(state: IntentState, method: str = "wallet_qr", reversal: str | None = None) -> Intent:
    return Intent("P-1", "S-1", method, True, 500, "JPY", state, "{}", 100.0, 112.5, reversal=reversal)


def test_a_released_payment_is_counted_with_the_lanes_reason_and_its_time(metrics: LaneMetrics) -> None:
    metrics.payment_finished(intent(IntentState.CANCELLED, reversal="expired"))
    metrics.payment_finished(intent(IntentState.CANCELLED, reversal="a reason nobody listed"))
    metrics.payment_finished(replace(intent(IntentState.FAILED), reason="Declined: card 4111..."))
    values = scrape(metrics)
    labels = (("method", "wallet_qr"), ("outcome", "cancelled"))
    assert values[("omo_edge_payments_total", (*labels, ("reason", "expired")))] == 1
    assert values[("omo_edge_payments_total", (*labels, ("reason", "other")))] == 1
    assert values[("omo_edge_payments_total", (("method", "wallet_qr"), ("outcome", "failed"), ("reason", "")))] == 1
    assert values[("omo_edge_payment_duration_seconds_sum", labels)] == 2 * 12.5


def test_a_part_that_cannot_be_read_is_left_out_and_logged_once(metrics: LaneMetrics, tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    metrics.sources.disk = DiskGuard(tmp_path / "no-such-directory")
    with caplog.at_level(logging.WARNING, logger="agent.api.lane_collector"):
        first, second = scrape(metrics), scrape(metrics)
    assert not [key for key in first if key[0] == "omo_edge_disk_free_bytes"]
    assert first[("omo_edge_outbox_depth", (("class", "sales"),))] == 0 and first.keys() == second.keys()
    assert [r.getMessage() for r in caplog.records] == [
        f"metrics: disk cannot be read and is left out of /metrics: [Errno 2] No such file or directory: "
        f"'{tmp_path / 'no-such-directory'}'"]
