"""`kill -9` of the daemon at random instants of a payment: after each restart, every charge the payment service
kept has exactly one sale in lane.db and at the cloud, and nothing is charged twice.

The deployed shape: the daemon with its pty scanner and the `paypay` adapter, the payment-service simulator on
127.0.0.1 (in a thread of this process, so its ledger can be read), mosquitto and the reference ingest.
Each trial pays one item, by a scanned wallet code or by the lane's QR, and kills the daemon at a random
instant while the service is slow to answer. Afterwards the wallet code's digits are in no log line (at debug
level), in no byte of lane.db or its WAL, and in nothing the cloud received over MQTT.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from simulators.cloud.broker import MosquittoBroker
from simulators.cloud.payment_service import PaymentService, ServiceThread
from simulators.cloud.store_catalog import TEA
from simulators.cloud.tokens import TokenIssuer
from simulators.devices.serial_pty import VirtualSerialScanner
from simulators.fixtures.daemon import AgentProcess
from simulators.fixtures.secrets import assert_daemon_clean
from simulators.fixtures.shop import api, ingest_payloads, started, until
from simulators.fixtures.sync import IngestProcess

TRIALS = 6                  # bench/soak_payment.py runs the in-process campaign for hundreds
WALLET = "281234567890123456"


@pytest.fixture
def service_thread() -> Iterator[ServiceThread]:
    thread = ServiceThread(PaymentService(latency_s=0.15))
    with thread:
        yield thread


@pytest.fixture
def paying_shop(shop: Path, tmp_path: Path, service_thread: ServiceThread) -> Path:
    """The store's lane config, paying through the `paypay` adapter against the simulator."""
    secret = tmp_path / "paypay.secret"
    secret.write_bytes(b"secret-1")
    secret.chmod(0o600)
    text = shop.read_text().replace("[agent]\n", '[agent]\nlog_level = "debug"\n', 1)
    assert 'adapter = "simulated"' in text and 'log_level = "debug"' in text
    shop.write_text(text.replace('adapter = "simulated"\n', f'''adapter = "paypay"
base_url = "{service_thread.service.url}"
merchant_id = "M-1"
api_key_id = "key-1"
api_secret_file = "{secret}"
timeout_s = 5
poll_interval_s = 0.3
unknown_timeout_s = 10
'''))
    return shop


def lane_sales(state_dir: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{state_dir / 'lane.db'}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT json_extract(body, '$.payment.payment_id') FROM sales")]
    finally:
        conn.close()


def open_intents(state_dir: Path) -> int:
    conn = sqlite3.connect(f"file:{state_dir / 'lane.db'}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM payment_intents WHERE state NOT IN "
                                "('succeeded', 'failed', 'cancelled')").fetchone()[0])
    finally:
        conn.close()


def settled(config: Path) -> str:
    """Wait until the visit is no longer paying; answers its state."""
    return str(until(lambda: (s := api(config, "GET", "/v1/session")[1]["state"]) != "paying" and s,
                     "the payment to settle", 30, show=lambda: api(config, "GET", "/v1/session")[1]))


def test_kill_9_anywhere_in_a_payment_loses_no_sale_and_charges_no_one_twice(
        paying_shop: Path, tmp_path: Path, start_agent: Callable[..., AgentProcess], ingest: IngestProcess,
        mqtt_broker: MosquittoBroker, serial_scanner_sim: VirtualSerialScanner,
        service_thread: ServiceThread, token_issuer: TokenIssuer) -> None:
    rng = random.Random(14)
    service = service_thread.service
    agent = started(start_agent, paying_shop)
    kinds: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    logs: list[str] = []
    killed_open = 0
    for trial in range(TRIALS):
        kind = "wallet_qr" if trial % 2 else "wallet_code"
        kinds[kind] += 1
        serial_scanner_sim.scan(TEA, aim="]E0")
        # The new visit, not the last one's paid basket (which has lines too: waiting for lines raced the scan).
        until(lambda: api(paying_shop, "GET", "/v1/session")[1]["state"] == "scanning", "the line")
        if kind == "wallet_code":
            serial_scanner_sim.scan(WALLET, aim="]Q1")
        else:
            service_thread.call(lambda: setattr(service, "app_pays_after_s", rng.uniform(0.0, 0.5)))
            api(paying_shop, "POST", "/v1/session/pay", {"method": "wallet_qr"})
        until(lambda: api(paying_shop, "GET", "/v1/session")[1]["state"] == "paying", "paying")
        time.sleep(rng.uniform(0.0, 0.4))               # a random instant of the payment (the service takes 0.15 s)
        agent.proc.kill()
        agent.proc.wait(10)
        logs.append(agent.output)
        killed_open += open_intents(tmp_path / "state")     # the kill landed while the payment was open
        agent = started(start_agent, paying_shop)
        outcomes[settled(paying_shop)] += 1
        if api(paying_shop, "GET", "/v1/session")[1]["state"] != "paid":
            status, _ = api(paying_shop, "POST", "/v1/session/cancel")
            assert status == 200
    ledger = service_thread.call(lambda: {pid: (service.charged(pid), service.kept(pid)) for pid in service.ledger})
    sales = Counter(lane_sales(tmp_path / "state"))
    assert all(n == 1 for n in sales.values()), f"a payment recorded twice: {sales}"
    assert all(charged <= 1 for charged, _ in ledger.values()), f"charged twice: {ledger}"
    kept = {pid for pid, (_, k) in ledger.items() if k}
    assert kept == set(sales), f"charges kept {sorted(kept)} != sales {sorted(sales)}"
    assert len(sales) >= 1 and set(kinds) == {"wallet_code", "wallet_qr"}
    assert killed_open >= TRIALS // 2, f"only {killed_open} kills landed inside a payment ({outcomes})"
    at_cloud = until(lambda: (p := ingest_payloads(ingest, "omo.sale/1")) and len(p) == len(sales) and p,
                     "every sale at the cloud", 30)
    assert Counter(s["payment"]["payment_id"] for s in at_cloud) == sales
    logs.append(agent.output)
    assert len("".join(logs)) > 1000, "the agent logged almost nothing at debug level"
    assert_daemon_clean(token_issuer, state_dir=tmp_path / "state", outputs=logs, ingest=ingest,
                        secrets={"wallet code": WALLET})
