"""The session in the deployed shape: the daemon process, a pty scanner, mosquitto and the reference ingest.

A shopper's basket survives `kill -9` of the daemon exactly, and the sale paid after the restart reaches the
cloud once with the money the lane computed; a lane whose uplink is down sells, and the backlog arrives.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from simulators.cloud.broker import MosquittoBroker
from simulators.cloud.store_catalog import BATTERIES, COUPON_100, MEMBER, ONIGIRI, TEA
from simulators.cloud.tokens import TokenIssuer
from simulators.devices.serial_pty import VirtualSerialScanner
from simulators.fixtures.daemon import AgentProcess
from simulators.fixtures.secrets import assert_daemon_clean
from simulators.fixtures.shop import api, ingest_payloads, started, until
from simulators.fixtures.sync import IngestProcess


def test_a_basket_survives_kill_9_and_its_sale_reaches_the_cloud_once(
        shop: Path, start_agent: Callable[..., AgentProcess], ingest: IngestProcess,
        serial_scanner_sim: VirtualSerialScanner, token_issuer: TokenIssuer) -> None:
    agent = started(start_agent, shop)
    serial_scanner_sim.scan(token_issuer.member(MEMBER), aim="]Q1")
    for code in (TEA, ONIGIRI, ONIGIRI, BATTERIES):
        serial_scanner_sim.scan(code, aim="]E0")
    serial_scanner_sim.scan(token_issuer.coupon(COUPON_100, sub=MEMBER), aim="]Q1")
    before = until(lambda: (v := api(shop, "GET", "/v1/session")[1])["coupons"] and v, "the coupon in the basket",
                   show=lambda: api(shop, "GET", "/v1/session")[1])
    # 140 tea (member) + 300 onigiri (2 for 300) + 498 batteries - 100 coupon
    assert before["totals"]["total"] == 838 and len(before["lines"]) == 3
    agent.proc.kill()
    agent.proc.wait(10)
    restarted = started(start_agent, shop)
    assert api(shop, "GET", "/v1/session")[1] == before
    status, paid = api(shop, "POST", "/v1/session/pay", {"method": "simulated"})
    assert status == 200 and paid["state"] == "paid"
    [sale] = until(lambda: ingest_payloads(ingest, "omo.sale/1"), "the sale at the cloud")
    assert (sale["total"], sale["sale_id"], sale["member_id"]) == (838, paid["sale_id"], MEMBER)
    # The coupon over 140 / 300 / 498 by largest remainder: 15 / 32 / 53. 8 %: 125 + 268 = 393, tax 393 x 8/108
    # = 29.1 -> 29; 10 %: 445, tax 445 x 10/110 = 40.5 -> 40 (rounded down, once per rate).
    assert {r["rate"]: (r["total"], r["tax"]) for r in sale["tax_breakdown"]} == {"0.08": (393, 29),
                                                                                  "0.10": (445, 40)}
    events = [e["event"] for e in until(lambda: [e for e in ingest_payloads(ingest, "omo.session/1")
                                                 if e["event"] == "paid"] and ingest_payloads(ingest, "omo.session/1"),
                                        "the paid event")]
    assert events == ["started", "member_identified", "paid"]
    until(lambda: ingest.report()["max_seq"] >= sale["seq"], "every event")
    assert ingest.report()["gaps"] == [] and ingest.duplicates() >= 0
    assert restarted.proc.poll() is None
    assert_daemon_clean(token_issuer, state_dir=shop.parent / "state", outputs=[agent.output, restarted.output],
                        ingest=ingest)


def test_a_lane_sells_with_the_uplink_down_and_the_sale_arrives_when_it_returns(
        shop: Path, start_agent: Callable[..., AgentProcess], ingest: IngestProcess, mqtt_broker: MosquittoBroker,
        serial_scanner_sim: VirtualSerialScanner) -> None:
    started(start_agent, shop)
    mqtt_broker.stop()
    serial_scanner_sim.scan(TEA, aim="]E0")
    until(lambda: api(shop, "GET", "/v1/session")[1]["lines"], "the line")
    status, paid = api(shop, "POST", "/v1/session/pay", {"method": "simulated"})
    assert status == 200 and paid["state"] == "paid"
    assert ingest_payloads(ingest, "omo.sale/1") == []
    mqtt_broker.start()
    [sale] = until(lambda: ingest_payloads(ingest, "omo.sale/1"), "the sale after the uplink returned", 30)
    assert sale["total"] == 150 and sale["sale_id"] == paid["sale_id"]
