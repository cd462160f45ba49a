"""A random audit in the deployed shape: the daemon process, a pty scanner, mosquitto and the reference ingest.

`kill -9` of the daemon in the middle of an audit: after the restart the lane is still waiting for the same
audit, asking for the same lines, with the unit already rescanned counted, and the audit ends as it would have.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from simulators.cloud.broker import MosquittoBroker
from simulators.cloud.catalog_data import write_lines
from simulators.cloud.store_catalog import BATTERIES, ONIGIRI, TEA, records
from simulators.cloud.tokens import TokenIssuer
from simulators.devices.serial_pty import VirtualSerialScanner
from simulators.fixtures.daemon import AgentProcess
from simulators.fixtures.shop import api, ingest_payloads, started, until
from simulators.fixtures.sync import IngestProcess

GTIN_OF = {"L1": TEA, "L2": ONIGIRI, "L3": BATTERIES}


def audit_shop(tmp_path: Path, write_config: Callable[..., Path], broker: MosquittoBroker,
               scanner: VirtualSerialScanner, issuer: TokenIssuer) -> Path:
    """The store's lane with every visit audited ([session] audit_rate 1) and k = 2 from the catalog's policy."""
    lines = [*records(), {"kind": "policy", "key": "audit_lines", "value": 2, "version": 1}]
    snapshot = write_lines(tmp_path / "store.jsonl", lines, version=1)
    imported = subprocess.run([sys.executable, "-m", "agent", "catalog", "import", str(snapshot), "--state-dir",
                               str(tmp_path / "state")], capture_output=True, text=True, timeout=60)
    assert imported.returncode == 0, imported.stderr
    assert issuer.key_path is not None
    return write_config(
        agent={"allow_simulators": True}, payment={"adapter": "simulated"},
        mqtt={"host": "127.0.0.1", "port": broker.port, "confirm_timeout_s": 2},
        trust={"keys": [str(issuer.key_path)]},
        session={"registration_number": "T9234567890123", "issuer_name": "OMO Mart", "audit_rate": 1.0},
        devices=[{"name": "handheld", "driver": "serial", "port": scanner.path, "bounce_ms": 0}])


def test_kill_9_during_an_audit_resumes_the_same_audit_after_the_restart(
        tmp_path: Path, write_config: Callable[..., Path], mqtt_broker: MosquittoBroker,
        start_agent: Callable[..., AgentProcess], ingest: IngestProcess,
        serial_scanner_sim: VirtualSerialScanner, token_issuer: TokenIssuer) -> None:
    shop = audit_shop(tmp_path, write_config, mqtt_broker, serial_scanner_sim, token_issuer)
    agent = started(start_agent, shop)
    for code in (TEA, ONIGIRI, BATTERIES):
        serial_scanner_sim.scan(code, aim="]E0")
    until(lambda: len(api(shop, "GET", "/v1/session")[1]["lines"]) == 3, "three lines")
    status, refused = api(shop, "POST", "/v1/session/pay", {"method": "simulated"})
    assert (status, refused["reason"], refused["session"]["state"]) == (409, "random_audit", "needs_attendant")
    [call] = api(shop, "GET", "/v1/session")[1]["interventions"]
    picked = list(call["audit_lines"])
    assert call["reason"] == "random_audit" and len(picked) == 2
    serial_scanner_sim.scan(GTIN_OF[picked[0]], aim="]E0")        # staff rescan the first picked item
    before = until(lambda: (v := api(shop, "GET", "/v1/session")[1])["prompts"][0]["code"] == "audit_rescanned"
                   and v, "the first audit scan")
    agent.proc.kill()
    agent.proc.wait(10)
    restarted = started(start_agent, shop)
    after = api(shop, "GET", "/v1/session")[1]
    assert after == before, "the lane comes back waiting for the same audit"
    assert after["state"] == "needs_attendant" and list(after["interventions"][0]["audit_lines"]) == picked
    serial_scanner_sim.scan(GTIN_OF[picked[1]], aim="]E0")        # the second, after the restart
    until(lambda: api(shop, "GET", "/v1/session")[1]["prompts"][0]["args"].get("count") == "2", "the second")
    assert len(api(shop, "GET", "/v1/session")[1]["lines"]) == 3, "audit scans never touch the basket"
    serial_scanner_sim.scan(token_issuer.staff("S-7"), aim="]Q1")
    until(lambda: api(shop, "GET", "/v1/session")[1]["state"] == "scanning", "the audit closed")
    [audit] = until(lambda: ingest_payloads(ingest, "omo.audit/1"), "the audit event at the cloud")
    assert (audit["result"], audit["lines"], audit["differences"]) == ("match", picked, [])
    assert sorted(f["gtin"] for f in audit["found"]) == sorted("0" + GTIN_OF[line] for line in picked)
    status, paid = api(shop, "POST", "/v1/session/pay", {"method": "simulated"})
    assert status == 200 and paid["state"] == "paid"
    assert restarted.proc.poll() is None
