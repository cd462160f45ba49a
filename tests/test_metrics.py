"""`GET /metrics` on a running lane: the real agent (agent.app.start) on real files, a serial scanner on a pty,
mosquitto over TLS with a client certificate, and the reference ingest confirming every event end to end.

One shopper's visit (a member, two items, a bad label, an unknown item sent away by staff, a code typed on the screen, a
declined payment, then a paid one) is made once for the module; each test reads the same scrape, parsed by
Prometheus's own parser, and checks one thing against what lane.db recorded.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from agent import app
from agent.config import load
from simulators.cloud.broker import MosquittoBroker, mosquitto_path
from simulators.cloud.certs import SERVER_NAME, LanePki
from simulators.cloud.store_catalog import NOT_IN_CATALOG, ONIGIRI, TEA
from simulators.cloud.tokens import TokenIssuer
from simulators.devices.serial_pty import VirtualSerialScanner
from simulators.fixtures.daemon import render_toml
from simulators.fixtures.session import store_state
from simulators.fixtures.sync import LANES, IngestProcess
from simulators.ports import free_port

pytestmark = [pytest.mark.broker, pytest.mark.timeout(90)]

BAD_CHECK_DIGIT = TEA[:-1] + str((int(TEA[-1]) + 1) % 10)


@dataclass
class Scrape:
    """What the lane exported after the visit, and what lane.db says happened."""

    text: str
    samples: list[Sample]
    scans: list[dict[str, Any]]            # rows of lane.db's scans table
    sale: dict[str, Any]                   # the recorded sale's body
    intents: list[dict[str, Any]]          # payment_intents rows
    secrets: set[str]                      # every ID and code of the visit: none may be a label value
    cert_file: Path
    catalog_version: int

    def value(self, name: str, **labels: str) -> float:
        """The one sample of `name` with exactly these labels (a missing one fails the test, naming it)."""
        found = [s.value for s in self.samples if s.name == name and s.labels == labels]
        assert len(found) == 1, f"{name}{labels}: {len(found)} samples; exported: {self.named(name)}"
        return found[0]

    def named(self, name: str) -> list[Sample]:
        return [s for s in self.samples if s.name == name]


def _config(work: Path, broker: MosquittoBroker, pki: LanePki, issuer: TokenIssuer, port: str) -> Path:
    lane = pki.lane("store-001", "lane-01")
    assert broker.tls_port is not None and issuer.key_path is not None
    path = work / "agent.toml"
    path.write_text(render_toml({
        "agent": {"store_id": "store-001", "lane_id": "lane-01", "state_dir": str(work / "state")},
        "api": {"listen": f"127.0.0.1:{free_port()}"},
        "mqtt": {"host": "127.0.0.1", "port": broker.tls_port, "tls": True, "ca_file": str(pki.ca.path),
                 "cert_file": str(lane.cert), "key_file": str(lane.key), "server_name": SERVER_NAME,
                 "confirm_timeout_s": 5},
        "trust": {"keys": [str(issuer.key_path)]},
        "devices": [{"name": "handheld", "driver": "serial", "port": port}],
    }))
    return path


async def _until(check: Any, what: str, timeout_s: float = 15.0) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            while not check():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"not within {timeout_s} s: {what}") from None


async def _visit(lane: app.Lane, scanner: VirtualSerialScanner, issuer: TokenIssuer) -> str:
    """The shopper's visit; returns the scrape of /metrics taken once every event is confirmed."""
    reader = lane.lane_db.reader()

    def scans() -> int:
        return int(reader.execute("SELECT count(*) FROM scans").fetchone()[0])

    await _until(lambda: lane.health.component("device:handheld").state == "ok"
                 and lane.health.component("mqtt").state == "ok", "the scanner and the broker are up")
    for number, (code, aim) in enumerate([(issuer.member("M-0001"), "]Q1"), (TEA, "]E0"), (ONIGIRI, "]E0"),
                                          (BAD_CHECK_DIGIT, "]E0"), (NOT_IN_CATALOG, "]E0")], start=1):
        scanner.scan(code, aim=aim)
        await _until(lambda n=number: scans() == n, f"scan {number} recorded")   # type: ignore[misc]
    base = f"http://{lane.config.api.listen}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            async with http.post(base + path, json=body) as response:
                return dict(await response.json())

        await post("/v1/attendant/reject", {"token": issuer.staff("S-9")})      # the unknown item goes back
        await post("/v1/session/items", {"code": TEA})                          # typed on the screen
        lane.session.adapter.outcome = "decline"                                # type: ignore[attr-defined]
        declined = await post("/v1/session/pay", {"method": "simulated"})
        assert declined.get("state") == "scanning", declined
        lane.session.adapter.outcome = "approve"                                # type: ignore[attr-defined]
        paid = await post("/v1/session/pay", {"method": "simulated"})
        assert paid["state"] == "paid", paid
        await _until(lambda: reader.execute("SELECT count(*) FROM outbox WHERE state = 0").fetchone()[0] == 0,
                     "every event confirmed by the ingest")
        async with http.get(base + "/metrics") as response:
            assert response.status == 200 and response.content_type == "text/plain"
            return await response.text()


def _rows(lane: app.Lane, sql: str) -> list[dict[str, Any]]:
    cursor = lane.lane_db.reader().execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


async def _run(work: Path, broker: MosquittoBroker, pki: LanePki) -> Scrape:
    issuer = TokenIssuer()
    (work / "keys").mkdir()
    issuer.write_public_key(work / "keys")
    store_state(work)
    scanner = VirtualSerialScanner("handheld")
    try:
        config = load(_config(work, broker, pki, issuer, scanner.path))
        lane = await app.start(config)
        try:
            text = await _visit(lane, scanner, issuer)
            scans, intents = _rows(lane, "SELECT * FROM scans"), _rows(lane, "SELECT * FROM payment_intents")
            sale = json.loads(_rows(lane, "SELECT body FROM sales")[0]["body"])
            visits = _rows(lane, "SELECT * FROM visits")
            version = lane.catalog.status().version
        finally:
            await app.stop(lane)
    finally:
        scanner.close()
    secrets = {sale["sale_id"], "M-0001", "S-9", TEA, "0" + TEA, ONIGIRI, NOT_IN_CATALOG, BAD_CHECK_DIGIT}
    secrets |= {v["session_id"] for v in visits} | {i["payment_id"] for i in intents}
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    return Scrape(text, samples, scans, sale, intents, secrets, pki.lane("store-001", "lane-01").cert, version)


@pytest.fixture(scope="module")
def scrape(tmp_path_factory: pytest.TempPathFactory, sync_pki: LanePki) -> Iterator[Scrape]:
    if mosquitto_path() is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto, or run ./.ci/bootstrap test)")
    work = tmp_path_factory.mktemp("metrics-lane")
    broker = MosquittoBroker(work / "broker", pki=sync_pki, lanes=LANES)
    broker.start()
    ingest = IngestProcess(broker, work / "ingest.db")
    try:
        ingest.start()
        yield asyncio.run(_run(work, broker, sync_pki))
    finally:
        ingest.stop()
        broker.kill()


def test_scans_are_counted_by_device_kind_and_outcome_as_lane_db_recorded_them(scrape: Scrape) -> None:
    recorded: dict[tuple[str, str, str], int] = {}
    for row in scrape.scans:
        key = (row["device"], row["kind"], row["outcome"])
        recorded[key] = recorded.get(key, 0) + 1
    exported = {(s.labels["device"], s.labels["kind"], s.labels["outcome"]): s.value
                for s in scrape.named("omo_edge_scans_total")}
    assert exported == recorded
    assert recorded[("handheld", "product", "accepted")] == 2 and recorded[("keypad", "product", "accepted")] == 1
    assert recorded[("handheld", "invalid", "rejected")] == 1
    assert scrape.value("omo_edge_scan_to_commit_seconds_count") == len(scrape.scans) == 6


def test_the_sale_is_counted_and_its_amount_summed_in_minor_units(scrape: Scrape) -> None:
    assert scrape.value("omo_edge_sales_total") == 1
    assert scrape.value("omo_edge_sales_amount_minor_total", currency="JPY") == scrape.sale["total"] > 0


def test_payment_attempts_are_counted_by_outcome_with_their_latency(scrape: Scrape) -> None:
    assert sorted(i["state"] for i in scrape.intents) == ["failed", "succeeded"]
    assert scrape.value("omo_edge_payments_total", method="simulated", outcome="failed", reason="") == 1
    assert scrape.value("omo_edge_payments_total", method="simulated", outcome="succeeded", reason="") == 1
    assert scrape.value("omo_edge_payment_duration_seconds_count", method="simulated", outcome="succeeded") == 1
    assert scrape.value("omo_edge_payment_duration_seconds_bucket", method="simulated", outcome="succeeded",
                        le="+Inf") == 1


def test_the_visit_and_the_attendant_call_are_counted(scrape: Scrape) -> None:
    assert scrape.value("omo_edge_sessions_started_total") == 1
    assert scrape.value("omo_edge_sessions_ended_total", outcome="paid") == 1
    assert scrape.value("omo_edge_sessions_ended_total", outcome="abandoned") == 0
    assert scrape.value("omo_edge_attendant_interventions_total", reason="unknown_item") == 1
    assert scrape.value("omo_edge_attendant_interventions_total", reason="age_restricted") == 0


def test_the_outbox_is_empty_once_confirmed_and_each_publish_and_ack_was_timed(scrape: Scrape) -> None:
    for name in ("sales", "pickups", "sessions", "scans"):
        assert scrape.value("omo_edge_outbox_depth", **{"class": name}) == 0
        assert scrape.value("omo_edge_outbox_oldest_age_seconds", **{"class": name}) == 0
    published = sum(s.value for s in scrape.named("omo_edge_outbox_publish_seconds_count"))
    assert published >= len(scrape.scans) + 1 + len(scrape.intents)    # scans, the sale, the payments, sessions
    assert scrape.value("omo_edge_outbox_ack_seconds_count") >= len(scrape.scans)
    assert scrape.value("omo_edge_outbox_last_ack_timestamp_seconds") > 0
    assert scrape.value("omo_edge_mqtt_connects_total") == 1


def test_components_have_one_gauge_per_state_set_for_the_current_one(scrape: Scrape) -> None:
    states = scrape.named("omo_edge_component_state")
    components = {s.labels["component"] for s in states}
    assert {"device:handheld", "mqtt", "relay", "disk", "pipeline", "session", "store", "api"} <= components
    for component in components:
        assert sum(s.value for s in states if s.labels["component"] == component) == 1, component
    assert scrape.value("omo_edge_component_state", component="device:handheld", state="ok") == 1
    assert scrape.value("omo_edge_device_good_scan_total", device="handheld") == 5
    assert scrape.value("omo_edge_device_failed_scan_total", device="handheld") == 0


def test_catalog_disk_and_certificate_are_read_at_scrape_time(scrape: Scrape) -> None:
    assert scrape.value("omo_edge_catalog_loaded") == 1
    assert scrape.value("omo_edge_catalog_version") == scrape.catalog_version > 0
    assert 0 <= scrape.value("omo_edge_catalog_age_seconds") < 600
    assert scrape.value("omo_edge_disk_free_bytes") > scrape.value("omo_edge_disk_stop_sales_free_bytes") > 0
    not_after = x509.load_pem_x509_certificate(scrape.cert_file.read_bytes()).not_valid_after_utc
    assert scrape.value("omo_edge_mqtt_client_cert_expiry_timestamp_seconds") == not_after.timestamp()


ID_LIKE = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}|\d{6,}|[A-Z]-\d{3,}|[0-9A-F]{16,}")


def test_no_label_value_is_an_id_or_a_code(scrape: Scrape) -> None:
    values = {value for sample in scrape.samples for key, value in sample.labels.items() if key != "le"}
    assert not values & scrape.secrets
    assert not [v for v in values if ID_LIKE.search(v) or any(secret in v for secret in scrape.secrets)]
    assert len(values) < 80, sorted(values)

