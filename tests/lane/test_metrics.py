"""`GET /metrics` on a running lane, after one shopper's visit (simulators/fixtures/metrics.py: the real agent, a
pty scanner, mosquitto over TLS, the reference ingest): each test reads the scrape, parsed by Prometheus's own
parser, and checks one thing against what lane.db recorded.
"""

from __future__ import annotations

import re

import pytest
from cryptography import x509

from simulators.fixtures.metrics import Scrape

pytestmark = [pytest.mark.broker, pytest.mark.timeout(90)]


def test_scans_are_counted_by_device_kind_and_outcome_as_lane_db_recorded_them(lane_scrape: Scrape) -> None:
    recorded: dict[tuple[str, str, str], int] = {}
    for row in lane_scrape.scans:
        key = (row["device"], row["kind"], row["outcome"])
        recorded[key] = recorded.get(key, 0) + 1
    exported = {(s.labels["device"], s.labels["kind"], s.labels["outcome"]): s.value
                for s in lane_scrape.named("omo_edge_scans_total")}
    assert exported == recorded
    assert recorded[("handheld", "product", "accepted")] == 2 and recorded[("keypad", "product", "attendant")] == 1
    assert recorded[("handheld", "invalid", "rejected")] == 1
    assert lane_scrape.value("omo_edge_scan_to_commit_seconds_count") == len(lane_scrape.scans) == 6


def test_the_sale_is_counted_and_its_amount_summed_in_minor_units(lane_scrape: Scrape) -> None:
    assert lane_scrape.value("omo_edge_sales_total") == 1
    assert lane_scrape.value("omo_edge_sales_amount_minor_total", currency="JPY") == lane_scrape.sale["total"] > 0


def test_payment_attempts_are_counted_by_outcome_with_their_latency(lane_scrape: Scrape) -> None:
    assert sorted(i["state"] for i in lane_scrape.intents) == ["failed", "succeeded"]
    assert lane_scrape.value("omo_edge_payments_total", method="simulated", outcome="failed", reason="") == 1
    assert lane_scrape.value("omo_edge_payments_total", method="simulated", outcome="succeeded", reason="") == 1
    assert lane_scrape.value("omo_edge_payment_duration_seconds_count", method="simulated", outcome="succeeded") == 1
    assert lane_scrape.value("omo_edge_payment_duration_seconds_bucket", method="simulated", outcome="succeeded",
                        le="+Inf") == 1


def test_the_visit_and_the_attendant_call_are_counted(lane_scrape: Scrape) -> None:
    assert lane_scrape.value("omo_edge_sessions_started_total") == 1
    assert lane_scrape.value("omo_edge_sessions_ended_total", outcome="paid") == 1
    assert lane_scrape.value("omo_edge_sessions_ended_total", outcome="abandoned") == 0
    assert lane_scrape.value("omo_edge_attendant_interventions_total", reason="unknown_item") == 1
    assert lane_scrape.value("omo_edge_attendant_interventions_total", reason="keyed_code") == 1
    assert lane_scrape.value("omo_edge_attendant_interventions_total", reason="age_restricted") == 0


def test_each_call_answered_at_the_lane_is_timed_to_its_first_response_and_its_decision(lane_scrape: Scrape) -> None:
    for reason in ("unknown_item", "keyed_code"):
        assert lane_scrape.value("omo_edge_attendant_wait_seconds_count", reason=reason) == 1
        assert lane_scrape.value("omo_edge_attendant_resolve_seconds_count", reason=reason) == 1
        assert 0 <= lane_scrape.value("omo_edge_attendant_resolve_seconds_sum", reason=reason) < 60


def test_the_outbox_is_empty_once_confirmed_and_each_publish_and_ack_was_timed(lane_scrape: Scrape) -> None:
    for name in ("sales", "pickups", "sessions", "scans"):
        assert lane_scrape.value("omo_edge_outbox_depth", **{"class": name}) == 0
        assert lane_scrape.value("omo_edge_outbox_oldest_age_seconds", **{"class": name}) == 0
    published = sum(s.value for s in lane_scrape.named("omo_edge_outbox_publish_seconds_count"))
    # every scan, the sale, each payment and the visit's events went out
    assert published >= len(lane_scrape.scans) + 1 + len(lane_scrape.intents) + 2
    assert lane_scrape.value("omo_edge_outbox_ack_seconds_count") >= len(lane_scrape.scans)
    assert lane_scrape.value("omo_edge_outbox_last_ack_timestamp_seconds") > 0
    assert lane_scrape.value("omo_edge_mqtt_connects_total") == 1


def test_components_have_one_gauge_per_state_set_for_the_current_one(lane_scrape: Scrape) -> None:
    states = lane_scrape.named("omo_edge_component_state")
    components = {s.labels["component"] for s in states}
    assert {"device:handheld", "mqtt", "relay", "disk", "pipeline", "session", "store", "api"} <= components
    for component in components:
        assert sum(s.value for s in states if s.labels["component"] == component) == 1, component
    assert lane_scrape.value("omo_edge_component_state", component="device:handheld", state="ok") == 1
    assert lane_scrape.value("omo_edge_device_good_scan_total", device="handheld") == 5
    assert lane_scrape.value("omo_edge_device_failed_scan_total", device="handheld") == 0


def test_catalog_disk_and_certificate_are_read_at_scrape_time(lane_scrape: Scrape) -> None:
    assert lane_scrape.value("omo_edge_catalog_loaded") == 1
    assert lane_scrape.value("omo_edge_catalog_version") == lane_scrape.catalog_version > 0
    assert 0 <= lane_scrape.value("omo_edge_catalog_age_seconds") < 600
    assert lane_scrape.value("omo_edge_disk_free_bytes") > lane_scrape.value("omo_edge_disk_stop_sales_free_bytes") > 0
    not_after = x509.load_pem_x509_certificate(lane_scrape.cert_file.read_bytes()).not_valid_after_utc
    assert lane_scrape.value("omo_edge_mqtt_client_cert_expiry_timestamp_seconds") == not_after.timestamp()


ID_LIKE = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}|\d{6,}|[A-Z]-\d{3,}|[0-9A-F]{16,}")


def test_no_label_value_is_an_id_or_a_code(lane_scrape: Scrape) -> None:
    values = {value for sample in lane_scrape.samples for key, value in sample.labels.items() if key != "le"}
    assert not values & lane_scrape.secrets
    assert not [v for v in values if ID_LIKE.search(v) or any(secret in v for secret in lane_scrape.secrets)]
    assert len(values) < 80, sorted(values)



def test_build_info_names_the_lane_as_its_config_does(lane_scrape: Scrape) -> None:
    """The one place the lane states its own names, so an alert can catch a scraper that labels it otherwise."""
    from agent import __version__
    assert lane_scrape.value("omo_edge_build_info", version=__version__, store_id="store-001", lane_id="lane-01") == 1
