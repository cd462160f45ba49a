"""Recalled lots and expired labels in the deployed shape: the daemon, a pty scanner sending GS1 DataMatrix
codes, mosquitto and the reference ingest. Both are refused, nothing enters the basket, and the scan events
the cloud receives carry the lot for recall tracing (docs/session.md, "Lots and dates")."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from simulators.cloud.catalog_data import write_lines
from simulators.cloud.store_catalog import ONIGIRI, TEA, records
from simulators.devices.serial_pty import VirtualSerialScanner
from simulators.fixtures.daemon import AgentProcess
from simulators.fixtures.shop import api, ingest_payloads, started, until
from simulators.fixtures.sync import IngestProcess

RECALL = "Do not eat; return it to the service counter for a refund"


def import_recall(shop: Path) -> None:
    """The store's catalog again as version 2, with a recall of TEA's lot L2026A, and the policy refusing a past
    expiry even on an untrusted clock (this machine's clock may not be NTP-synchronised: the test must not
    depend on it)."""
    lines = [*records(2), {"kind": "sale_stop", "gtin": TEA, "lot": "L2026A", "reason": "recall", "message": RECALL,
                           "version": 2},
             {"kind": "policy", "key": "expiry_when_clock_untrusted", "value": "refuse", "version": 2}]
    snapshot = write_lines(shop.parent / "recall.jsonl", lines, version=2)
    imported = subprocess.run([sys.executable, "-m", "agent", "catalog", "import", str(snapshot), "--state-dir",
                               str(shop.parent / "state")], capture_output=True, text=True, timeout=60)
    assert imported.returncode == 0, imported.stderr


def datamatrix(gtin13: str, expiry: date, lot: str) -> str:
    """A GS1 DataMatrix's data as the scanner sends it after the AIM ID ]d2: AI 01, 17, then the lot last."""
    return f"010{gtin13}17{expiry.strftime('%y%m%d')}10{lot}"


def test_a_recalled_lot_and_an_expired_label_are_refused_through_the_pty_with_the_lot_in_the_event(
        shop: Path, start_agent: Callable[..., AgentProcess], ingest: IngestProcess,
        serial_scanner_sim: VirtualSerialScanner) -> None:
    import_recall(shop)
    started(start_agent, shop)
    today = date.today()
    serial_scanner_sim.scan(ONIGIRI, aim="]E0")
    serial_scanner_sim.scan(datamatrix(TEA, today + timedelta(days=30), "L2026A"), aim="]d2")
    serial_scanner_sim.scan(datamatrix(ONIGIRI, today - timedelta(days=3), "B7"), aim="]d2")
    serial_scanner_sim.scan(datamatrix(TEA, today + timedelta(days=30), "L2026B"), aim="]d2")
    scans = until(lambda: len(found := ingest_payloads(ingest, "omo.scan/1")) >= 4 and found, "four scan events",
                  30, show=lambda: ingest_payloads(ingest, "omo.scan/1"))
    recalled, expired, other = sorted(scans, key=lambda e: e["seq"])[1:4]
    assert (recalled["outcome"], recalled["reason"], recalled["lot"], recalled["stop_reason"]) == (
        "rejected", "recalled_lot", "L2026A", "recall")
    assert (expired["outcome"], expired["reason"], expired["lot"]) == ("rejected", "expired", "B7")
    assert expired["expiry"] == (today - timedelta(days=3)).isoformat()
    assert (other["outcome"], other["lot"]) == ("accepted", "L2026B"), "another lot of the recalled item sells"
    view = api(shop, "GET", "/v1/session")[1]
    assert [(line["gtin"], line["quantity"]) for line in view["lines"]] == [("0" + ONIGIRI, 1), ("0" + TEA, 1)]
    assert view["totals"]["total"] == 160 + 150
