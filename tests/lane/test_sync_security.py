"""TLS with client certificates and the broker's per-lane ACL: good credentials work, every bad one is refused."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from agent.health import State
from agent.session.records.sales import record_sale
from simulators.cloud.broker import MosquittoBroker
from simulators.cloud.certs import SERVER_NAME, LanePki
from simulators.doubles.waiting import wait_until
from simulators.lanes.sync import mqtt_section, running_lane
from simulators.lanes.writer import sale

pytestmark = [pytest.mark.broker, pytest.mark.timeout(60)]


def tls_section(broker: MosquittoBroker, pki: LanePki, **overrides: object):  # type: ignore[no-untyped-def]
    lane = pki.lane("store-001", "lane-01")
    assert broker.tls_port is not None
    settings = {"tls": True, "ca_file": pki.ca.path, "cert_file": lane.cert, "key_file": lane.key,
                "server_name": SERVER_NAME, "delivery": "broker", **overrides}
    return mqtt_section(broker.tls_port, **settings)


async def test_a_lane_with_its_certificate_connects_and_delivers(tls_broker: MosquittoBroker, sync_pki: LanePki,
                                                                 tmp_path: Path) -> None:
    async with running_lane(tmp_path, tls_section(tls_broker, sync_pki)) as lane:
        await lane.db.write(record_sale, sale(1))
        lane.relay.wake()
        await lane.wait_drained(10)
        assert lane.publisher.probe()["client_cert_days_left"] > 29
        assert lane.mqtt_health.state == State.OK


async def test_a_certificate_that_expires_soon_still_delivers_and_health_says_renew_it(
        tls_broker: MosquittoBroker, sync_pki: LanePki, tmp_path: Path) -> None:
    soon = sync_pki.lane("store-001", "lane-01", days=5)
    section = tls_section(tls_broker, sync_pki, cert_file=soon.cert, key_file=soon.key)
    async with running_lane(tmp_path, section) as lane:
        await lane.db.write(record_sale, sale(1))
        lane.relay.wake()
        await lane.wait_drained(10)
        assert lane.mqtt_health.state == State.DEGRADED
        assert "expires in 5 days" in lane.mqtt_health.reason and str(soon.cert) in lane.mqtt_health.reason
        assert "renewed certificate" in lane.mqtt_health.reason


def bad_credentials(pki: LanePki) -> dict[str, dict[str, object]]:
    expired = pki.lane("store-001", "lane-01", days=-1, start_days=-10)
    foreign = pki.other_ca.issue("foreign-lane", "store-001.lane-01")
    return {
        "no client certificate": {"cert_file": None, "key_file": None},
        "expired client certificate": {"cert_file": expired.cert, "key_file": expired.key},
        "client certificate from another CA": {"cert_file": foreign.cert, "key_file": foreign.key},
        "broker not signed by the trusted CA": {"ca_file": pki.other_ca.path},
        "wrong broker hostname": {"server_name": "wrong.omo.test"},
    }


@pytest.mark.parametrize("case", ["no client certificate", "expired client certificate",
                                  "client certificate from another CA", "broker not signed by the trusted CA",
                                  "wrong broker hostname"])
async def test_bad_tls_credentials_are_refused(tls_broker: MosquittoBroker, sync_pki: LanePki, tmp_path: Path,
                                               case: str) -> None:
    section = tls_section(tls_broker, sync_pki, **bad_credentials(sync_pki)[case])
    async with running_lane(tmp_path, section) as lane:
        await wait_until(lambda: lane.mqtt_health.state == State.DOWN, 15)
        await asyncio.sleep(0.5)   # a window for a wrong connection to come up, were it allowed
        assert not lane.publisher.connected.is_set()
        assert "connects" not in lane.mqtt_health.counters


async def test_a_publish_the_acl_refuses_is_not_marked_sent_and_is_alerted(
        tls_broker: MosquittoBroker, sync_pki: LanePki, tmp_path: Path) -> None:
    # The certificate says store-001.lane-01; the lane claims another store's topics.
    section = tls_section(tls_broker, sync_pki, client_id="omo-edge-store-002-lane-01")
    async with running_lane(tmp_path, section, store_id="store-002", lane_id="lane-01") as lane:
        await lane.db.write(record_sale, sale(1))
        lane.relay.wake()
        await wait_until(lambda: lane.relay_health.counters.get("publish_refused", 0) >= 1, 15)
        assert lane.relay_health.state == State.DEGRADED
        assert "0x87" in lane.relay_health.reason
    conn = sqlite3.connect(tmp_path / "lane.db")
    assert conn.execute("SELECT state, sent_at FROM outbox").fetchall() == [(0, None)]
    conn.close()
