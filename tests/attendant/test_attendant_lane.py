"""The lane's attendant side end to end: the real agent (agent.app.start) on real files, a pty scanner, a real
mosquitto, and a station played by a paho client that signs its commands with its own Ed25519 key.

A refused command changes nothing: the screen's session, the outbox and the open calls stay as they were.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import paho.mqtt.client as paho
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent import app
from agent.attendant import wire
from simulators.cloud.broker import MosquittoBroker
from simulators.cloud.store_catalog import BEER, NOT_IN_CATALOG, TEA
from simulators.doubles.waiting import wait_until
from simulators.lanes.attendant_rig import Rig

PREFIX, STORE, LANE = "omo/v1", "store-001", "lane-01"
pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]


class Station:
    """The attendant station as the lane sees it: status and replies in, signed commands out."""

    def __init__(self, port: int, protocol: str, key: Ed25519PrivateKey, station_id: str = "station-1") -> None:
        self.v5, self.key, self.station_id = protocol == "5", key, station_id
        self.replies_topic = wire.replies_topic(PREFIX, STORE, station_id)
        self.statuses: dict[str, dict[str, Any]] = {}
        self.replies: dict[str, tuple[dict[str, Any], bytes | None]] = {}
        self.lock = threading.Lock()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"station-{uuid.uuid4().hex[:8]}",
                                  protocol=MQTTProtocolVersion.MQTTv5 if self.v5 else MQTTProtocolVersion.MQTTv311)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe([(wire.status_filter(PREFIX, STORE), 1), (self.replies_topic, 1)])
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, message: paho.MQTTMessage) -> None:
        body = json.loads(message.payload)
        with self.lock:
            if message.topic.endswith("/attendant/status"):
                self.statuses[message.topic.split("/")[-3]] = body
            else:
                correlation = getattr(getattr(message, "properties", None), "CorrelationData", None)
                self.replies[body.get("command_id") or f"none-{len(self.replies)}"] = (body, correlation)

    def sign(self, action: str, staff_token: str, *, kid: str = "station-1", key: Ed25519PrivateKey | None = None,
             lane_id: str = LANE, store_id: str = STORE, ttl_s: int = 10, age_s: float = 0,
             **targets: str | None) -> tuple[str, str]:
        """(jti, JWS) of a command issued `age_s` ago."""
        claims = wire.new_command(store_id=store_id, lane_id=lane_id, station_id=self.station_id, action=action,
                                  staff_token=staff_token, ttl_s=ttl_s, now=time.time() - age_s, **targets)
        return claims.jti, wire.sign_command(claims, key or self.key, kid)

    def publish(self, token: str, jti: str, topic_lane: str = LANE, reply_to: str | None = None) -> None:
        reply_to = reply_to or self.replies_topic
        properties = None
        if self.v5:
            properties = Properties(PacketTypes.PUBLISH)
            properties.ResponseTopic = reply_to
            properties.CorrelationData = jti.encode()
        info = self.client.publish(wire.commands_topic(PREFIX, STORE, topic_lane),
                                   wire.command_payload(token, reply_to), qos=1, properties=properties)
        info.wait_for_publish(5)

    async def command(self, action: str, staff_token: str, *, correlated: bool | None = None,
                      **kw: Any) -> dict[str, Any]:
        """Sign, send and wait for the reply (with the command ID as correlation data when both speak MQTT 5)."""
        jti, token = self.sign(action, staff_token, **kw)
        self.publish(token, jti)
        return await self.reply(jti, correlated)

    async def reply(self, jti: str, correlated: bool | None = None) -> dict[str, Any]:
        await wait_until(lambda: jti in self.replies, 15)
        body, correlation = self.replies[jti]
        assert correlation == (jti.encode() if (self.v5 if correlated is None else correlated) else None)
        return body

    async def status(self, check: Callable[[dict[str, Any]], bool], lane: str = LANE) -> dict[str, Any]:
        await wait_until(lambda: lane in self.statuses and check(self.statuses[lane]), 15)
        return self.statuses[lane]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def rig(tmp_path: Path, mqtt_broker: MosquittoBroker) -> Iterator[Rig]:
    rig = Rig(tmp_path, mqtt_broker)
    yield rig
    rig.scanner.close()


@pytest.fixture
def station(rig: Rig, mqtt_broker: MosquittoBroker) -> Iterator[Station]:
    station = Station(mqtt_broker.port, "5", rig.station_key)
    yield station
    station.close()


def attendant_events(lane: app.Lane) -> list[dict[str, Any]]:
    rows = lane.lane_db.reader().execute("SELECT payload FROM outbox WHERE schema = 'omo.attendant/1' ORDER BY seq")
    return [json.loads(payload) for (payload,) in rows]


def lane_state(lane: app.Lane) -> tuple[Any, ...]:
    """What a refused command must leave as it was: the screen's session and every event."""
    outbox = lane.lane_db.reader().execute("SELECT count(*), max(seq) FROM outbox").fetchone()
    return json.dumps(lane.session.view(), sort_keys=True), tuple(outbox)


async def test_a_beer_shows_on_the_status_and_an_age_check_is_decided_at_the_lane_by_default(
        rig: Rig, station: Station) -> None:
    async with rig.lane() as lane:
        call = await rig.call(lane, BEER, "age_restricted")
        status = await station.status(lambda s: s["state"] == "needs_attendant")
        (shown,) = status["interventions"]
        assert (shown["intervention_id"], shown["remote_allowed"], status["light"]) == \
            (call["intervention_id"], False, "off")
        assert shown["detail"]["gtin"].endswith(BEER) and shown["detail"]["restriction"] == "age_20"
        assert status["last_scan"]["kind"] == "product" and status["last_scan"]["text"] == BEER
        assert status["last_scan"]["at"] is not None and status["devices"]["device:handheld"]["state"] == "ok"
        before = lane_state(lane)
        reply = await station.command("approve", rig.issuer.staff("S-1"), session_id=status["session_id"],
                                      intervention_id=call["intervention_id"])
        assert (reply["outcome"], reply["reason"]) == ("refused", "at_lane_only")
        assert lane_state(lane) == before


async def test_a_remote_age_approval_is_taken_when_the_config_allows_it(rig: Rig, station: Station) -> None:
    async with rig.lane(remote={"age_restricted": "remote"}) as lane:
        call = await rig.call(lane, BEER, "age_restricted")
        reply = await station.command("approve", rig.issuer.staff("S-1"), session_id=lane.session.session.session_id,
                                      intervention_id=call["intervention_id"])
        assert (reply["outcome"], reply["decision"], reply["resolved_by"]) == ("applied", "approved", "S-1")
        assert lane.session.session.state.value == "scanning"


@pytest.mark.parametrize(("lane_protocol", "station_protocol"), [("5", "5"), ("3.1.1", "3.1.1"), ("3.1.1", "5")])
async def test_an_unknown_item_approved_remotely_unblocks_the_lane_once(rig: Rig, mqtt_broker: MosquittoBroker,
                                                                        lane_protocol: str,
                                                                        station_protocol: str) -> None:
    station = Station(mqtt_broker.port, station_protocol, rig.station_key)
    try:
        async with rig.lane(lane_protocol) as lane:
            call = await rig.call(lane, NOT_IN_CATALOG, "unknown_item")
            session_id = lane.session.session.session_id
            status = await station.status(lambda s: bool(s["interventions"]))
            assert status["interventions"][0]["detail"]["code"].endswith(NOT_IN_CATALOG)
            both_v5 = lane_protocol == station_protocol == "5"
            coming = await station.command("coming", rig.issuer.staff("S-1", name="Sato"), session_id=session_id,
                                           intervention_id=call["intervention_id"], correlated=both_v5)
            assert coming["outcome"] == "applied"
            assert lane.session.view()["prompts"][0]["code"] == "help_coming"
            coming_status = await station.status(lambda s: (s["help_coming"] or {}).get("staff_id") == "S-1")
            assert coming_status["help_coming"]["name"] == "Sato"
            # Two staff decide the same call at once: one decision, and the other is told who made it.
            sent = [station.sign(action, rig.issuer.staff(staff), session_id=session_id,
                                 intervention_id=call["intervention_id"])
                    for action, staff in (("approve", "S-1"), ("reject", "S-2"))]
            for jti, token in sent:
                station.publish(token, jti)
            approve, reject = [await station.reply(jti, both_v5) for jti, _ in sent]
            assert (approve["outcome"], approve["decision"], approve["resolved_by"]) == ("applied", "approved", "S-1")
            assert (reject["outcome"], reject["resolved_by"], reject["decision"]) == \
                ("already_resolved", "S-1", "approved")
            assert reject["resolved_at"] == approve["resolved_at"] and "S-1" in reject["message"]
            assert reject["status_seq"] >= approve["status_seq"] >= 1
            assert lane.session.session.state.value == "scanning" and not lane.session.session.pending
            await station.status(lambda s: s["state"] == "scanning" and not s["interventions"])
            events = [(e["event"], e["via"], e["staff_id"]) for e in attendant_events(lane)]
            assert events == [("call_raised", None, None), ("call_acknowledged", "station", "S-1"),
                              ("call_resolved", "station", "S-1")]
            metrics = await scrape(lane)
            assert 'omo_edge_attendant_commands_total{action="approve",outcome="applied"} 1.0' in metrics
            assert 'omo_edge_attendant_commands_total{action="reject",outcome="already_resolved"} 1.0' in metrics
            assert 'omo_edge_attendant_resolve_seconds_count{reason="unknown_item"} 1.0' in metrics
            assert 'omo_edge_attendant_wait_seconds_count{reason="unknown_item"} 1.0' in metrics   # the "coming"
    finally:
        station.close()


async def scrape(lane: app.Lane) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"http://{lane.config.api.listen}/metrics") as response:
        return await response.text()


async def test_refused_commands_change_nothing(rig: Rig, station: Station) -> None:
    async with rig.lane() as lane:
        call = await rig.call(lane, NOT_IN_CATALOG, "unknown_item")
        target = {"session_id": lane.session.session.session_id, "intervention_id": call["intervention_id"]}
        staff = rig.issuer.staff("S-1")
        before = lane_state(lane)
        cases = {
            "unknown_key": dict(kid="station-9"),
            "bad_signature": dict(key=Ed25519PrivateKey.generate()),
            "expired": dict(age_s=4000),         # past even the unsynced clock allowance (1 h)
            "too_long": dict(ttl_s=60),
            "wrong_lane": dict(lane_id="lane-02"),
        }
        for reason, change in cases.items():
            reply = await station.command("approve", staff, **change, **target)
            assert (reply["outcome"], reply["reason"]) == ("refused", reason), reply
        other_store = await station.command("approve", staff, store_id="store-002", **target)
        bad_staff = await station.command("approve", staff[:-4] + "AAAA", **target)
        wrong_type = await station.command("approve", rig.issuer.member("M-1"), **target)
        assert [r["reason"] for r in (other_store, bad_staff, wrong_type)] == ["wrong_lane", "staff_token",
                                                                                 "staff_token"]
        assert "bad_signature" in bad_staff["message"]
        assert lane_state(lane) == before and lane.session.session.pending


async def test_a_replayed_command_is_refused_also_after_a_restart(rig: Rig, station: Station) -> None:
    async with rig.lane() as lane:
        call = await rig.call(lane, NOT_IN_CATALOG, "unknown_item")
        session_id = lane.session.session.session_id
        jti, token = station.sign("coming", rig.issuer.staff("S-1"), session_id=session_id,
                                  intervention_id=call["intervention_id"])
        station.publish(token, jti)
        assert (await station.reply(jti))["outcome"] == "applied"
        del station.replies[jti]
        before = lane_state(lane)
        station.publish(token, jti)
        assert (await station.reply(jti))["reason"] == "replayed"
        assert lane_state(lane) == before
    async with rig.lane() as lane:
        del station.replies[jti]
        station.publish(token, jti)
        assert (await station.reply(jti))["reason"] == "replayed"


async def test_voiding_a_paid_sale_needs_a_supervisor(rig: Rig, station: Station) -> None:
    async with rig.lane() as lane:
        rig.scanner.scan(TEA, aim="]E0")
        await wait_until(lambda: lane.session.session.active_lines, 10)
        await lane.checkout.pay("simulated")
        sale_id = lane.session.session.sale_id
        assert sale_id is not None
        before = lane_state(lane)
        refused = await station.command("void_sale", rig.issuer.staff("S-1"), sale_id=sale_id)
        assert (refused["outcome"], refused["reason"]) == ("refused", "role") and lane_state(lane) == before
        voided = await station.command("void_sale", rig.issuer.staff("S-2", role="supervisor"), sale_id=sale_id)
        assert voided["outcome"] == "applied"
        rows = lane.lane_db.reader().execute("SELECT staff_id FROM sale_reversals").fetchall()
        assert rows == [("S-2",)]


async def test_with_the_broker_down_a_staff_code_at_the_lane_still_resolves_and_the_station_catches_up(
        rig: Rig, mqtt_broker: MosquittoBroker) -> None:
    async with rig.lane() as lane:
        await rig.call(lane, NOT_IN_CATALOG, "unknown_item")
        mqtt_broker.kill()
        await wait_until(lambda: lane.health.component("mqtt").state != "ok", 15)
        rig.scanner.scan(rig.issuer.staff("S-7"), aim="]Q1")
        await wait_until(lambda: not lane.session.session.pending, 10)
        mqtt_broker.start()
        station = Station(mqtt_broker.port, "5", rig.station_key)
        try:
            status = await station.status(lambda s: s["uplink"] == "online", )
            assert status["state"] == "scanning" and status["interventions"] == []
        finally:
            station.close()
        events = [(e["event"], e["via"], e["staff_id"]) for e in attendant_events(lane)]
        assert events == [("call_raised", None, None), ("call_resolved", "lane", "S-7")]


async def test_void_cancel_lock_and_unlock_go_through_the_lanes_own_rules(rig: Rig, station: Station) -> None:
    async with rig.lane() as lane:
        staff = rig.issuer.staff("S-1")
        rig.scanner.scan(TEA, aim="]E0")
        await wait_until(lambda: lane.session.session.active_lines, 10)
        session_id = lane.session.session.session_id
        voided = await station.command("void_line", staff, session_id=session_id, line_id="L1")
        assert voided["outcome"] == "applied" and not lane.session.session.active_lines
        again = await station.command("void_line", staff, session_id=session_id, line_id="L1")
        assert (again["outcome"], again["reason"]) == ("refused", "not_applicable")
        stale = await station.command("cancel_visit", staff, session_id="another-visit")
        assert (stale["outcome"], stale["reason"]) == ("refused", "not_applicable")
        cancelled = await station.command("cancel_visit", staff, session_id=session_id)
        assert cancelled["outcome"] == "applied" and lane.session.session.state.value == "cancelled"
        locked = await station.command("lock", staff)
        assert locked["outcome"] == "applied"
        await station.status(lambda s: s["state"] == "out_of_order")
        unlocked = await station.command("unlock", staff)
        assert unlocked["outcome"] == "applied"
        back = lane.session.view()["state"]
        assert back != "locked"
        await station.status(lambda s: s["state"] == back)
        sessions = [e["event"] for e in (json.loads(p) for (p,) in lane.lane_db.reader().execute(
            "SELECT payload FROM outbox WHERE schema = 'omo.session/1' ORDER BY seq"))]
        assert sessions[-4:] == ["line_voided", "cancelled", "lane_locked", "lane_unlocked"]


async def test_a_paid_visits_line_cannot_be_voided_remotely(rig: Rig, station: Station) -> None:
    async with rig.lane() as lane:
        rig.scanner.scan(TEA, aim="]E0")
        await wait_until(lambda: lane.session.session.active_lines, 10)
        await lane.checkout.pay("simulated")
        before = lane_state(lane)
        reply = await station.command("void_line", rig.issuer.staff("S-1"),
                                      session_id=lane.session.session.session_id, line_id="L1")
        assert (reply["outcome"], reply["reason"]) == ("refused", "not_applicable") and lane_state(lane) == before


async def test_a_lane_without_station_keys_answers_disabled_and_one_kept_to_other_stations_refuses(
        rig: Rig, station: Station) -> None:
    async with rig.lane(keys=[]) as lane:
        call = await rig.call(lane, NOT_IN_CATALOG, "unknown_item")
        target = {"session_id": lane.session.session.session_id, "intervention_id": call["intervention_id"]}
        before = lane_state(lane)
        reply = await station.command("approve", rig.issuer.staff("S-1"), **target)
        assert (reply["outcome"], reply["reason"]) == ("refused", "disabled") and lane_state(lane) == before
        status = await station.status(lambda s: bool(s["interventions"]))   # the status goes out all the same
        assert status["interventions"][0]["intervention_id"] == call["intervention_id"]
    async with rig.lane(station_ids=["station-2"]) as lane:
        reply = await station.command("approve", rig.issuer.staff("S-1"), **target)
        assert (reply["outcome"], reply["reason"]) == ("refused", "unknown_key") and "station_ids" in reply["message"]
        assert lane.session.session.pending


async def test_a_lane_that_takes_no_staff_tokens_takes_none_through_the_station(rig: Rig, station: Station) -> None:
    async with rig.lane(interpret={"accept_staff_tokens": False}) as lane:
        call = await rig.call(lane, NOT_IN_CATALOG, "unknown_item")
        reply = await station.command("approve", rig.issuer.staff("S-1"), session_id=lane.session.session.session_id,
                                      intervention_id=call["intervention_id"])
        assert (reply["outcome"], reply["reason"]) == ("refused", "staff_token") and "wrong_type" in reply["message"]
        assert lane.session.session.pending


async def test_a_command_asking_for_its_reply_on_another_topic_is_not_answered_nor_applied(
        rig: Rig, station: Station) -> None:
    async with rig.lane() as lane:
        call = await rig.call(lane, NOT_IN_CATALOG, "unknown_item")
        target = {"session_id": lane.session.session.session_id, "intervention_id": call["intervention_id"]}
        sales = f"{PREFIX}/{STORE}/{LANE}/sales"
        station.client.subscribe(sales, 1)
        evil, token = station.sign("approve", rig.issuer.staff("S-1"), **target)
        station.publish(token, evil, reply_to=sales)
        await station.command("coming", rig.issuer.staff("S-1"), **target)    # answered after the one before
        assert evil not in station.replies and lane.session.session.pending
        assert not [r for r in station.replies if r.startswith("none-")], "nothing was published on the sales topic"
        assert [e["event"] for e in attendant_events(lane)] == ["call_raised", "call_acknowledged"]
