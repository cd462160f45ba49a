"""Online orders collected at the lane: the real pipeline, session, lane.db and a simulated locker.

Each journey scans the order's app QR (a token from the fake cloud's issuer) as a scanner would send it, waits
for the locker's answer, and reads back the screen, the locker, the claim in lane.db and the outbox.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from agent.catalog.records import Order
from agent.clock import rfc3339_ms
from agent.interpret.meanings import PickupOrder
from agent.interpret.tokens import Claims
from agent.session.records import pickup_claims
from agent.session.rules import pickup_rules
from agent.session.rules.basket import MemberInfo, Session, idle_session
from agent.session.rules.machine import SessionState
from agent.session.rules.pickup_rules import Claim, PickupFacts, Plan, Refused
from simulators.cloud.store_catalog import (
    MEMBER,
    MEMBER_NO_CONSENT,
    ORDER_COLLECTED,
    ORDER_NO_COMPARTMENT,
    ORDER_NOT_IN_CATALOG,
    ORDER_OTHER_MEMBER,
    ORDER_READY,
    TEA,
)
from simulators.fixtures.secrets import sweep_secrets
from simulators.fixtures.session import SessionLane

ROOT = Path(__file__).resolve().parents[2]
ASYNCAPI: dict[str, Any] = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())


def assert_pickup_contract(payloads: list[dict[str, Any]]) -> None:
    for payload in payloads:
        for name in ("Pickup", "Session"):     # a pickup event is also a session event (`event: pickup`)
            schema = {"$ref": f"#/components/schemas/{name}", "components": ASYNCAPI["components"]}
            jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(payload)


def pickups(lane: SessionLane) -> list[dict[str, Any]]:
    return lane.events("omo.pickup/1")


def claims(lane: SessionLane) -> list[tuple[Any, ...]]:
    assert lane.lane_db is not None
    return lane.lane_db.reader().execute(
        "SELECT order_id, state, reason, compartment, attempt, offline FROM pickup_claims").fetchall()


async def collect(lane: SessionLane, order_id: str, member_id: str = MEMBER, **token: Any) -> Any:
    change = await lane.scan(lane.issuer.order(order_id, sub=member_id, **token), "qr")
    await lane.settled()
    return change


def prompt(lane: SessionLane) -> dict[str, Any]:
    [shown] = lane.view["prompts"]
    return dict(shown)


# -- journeys ----------------------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def no_secret_is_written_down(request: pytest.FixtureRequest) -> None:
    """Every journey here ends with the card-data sweep: lane.db, its WAL, the log, the outbox, the screen."""
    sweep_secrets(request)


async def test_a_ready_order_is_claimed_its_compartment_opens_and_it_is_recorded_collected(
        pickup_lane: SessionLane) -> None:
    lane = pickup_lane
    change = await collect(lane, ORDER_READY)
    assert change is not None and change.ok
    assert lane.locker.opened == ["A3"]
    assert claims(lane) == [(ORDER_READY, "collected", None, "A3", 1, 0)]
    processing, collected = pickups(lane)
    assert [processing["state"], collected["state"]] == ["processing", "collected"]
    assert processing["claim_id"] == collected["claim_id"] == processing["event_id"]
    assert processing["claimed_at"] == collected["claimed_at"] and collected["member_id"] == MEMBER
    assert (collected["compartment"], collected["locker"], collected["offline"]) == ("A3", "simulated", False)
    assert prompt(lane)["code"] == "pickup_collected" and "Compartment A3 is open" in prompt(lane)["message"]
    [scan] = lane.events("omo.scan/1")
    assert (scan["kind"], scan["outcome"], scan["member_id"]) == ("order", "accepted", MEMBER)
    assert lane.view["state"] == "idle" and lane.view["lines"] == []
    assert_pickup_contract(pickups(lane))


async def test_an_order_collected_here_is_refused_the_second_time_with_one_claim_and_an_event(
        pickup_lane: SessionLane) -> None:
    lane = pickup_lane
    await collect(lane, ORDER_READY)
    again = await collect(lane, ORDER_READY)
    assert again is not None and again.refused == "pickup_already_collected"
    assert "already been collected" in prompt(lane)["message"]
    assert lane.locker.opened == ["A3"], "the door opens once"
    assert claims(lane) == [(ORDER_READY, "collected", None, "A3", 1, 0)]
    assert [(p["state"], p.get("reason")) for p in pickups(lane)] == [
        ("processing", None), ("collected", None), ("refused", "order_collected")]
    assert lane.events("omo.scan/1")[-1]["reason"] == "order_collected"
    assert_pickup_contract(pickups(lane))


async def test_an_order_scanned_again_while_its_door_opens_is_refused_as_in_progress(
        pickup_lane: SessionLane) -> None:
    lane = pickup_lane
    lane.locker.latency_s = 0.2
    await lane.scan(lane.issuer.order(ORDER_READY, sub=MEMBER), "qr")
    await lane.scan(lane.issuer.order(ORDER_READY, sub=MEMBER), "qr")   # before or after the claim commits
    await lane.settled()
    assert lane.locker.attempts == ["A3"] and claims(lane) == [(ORDER_READY, "collected", None, "A3", 1, 0)]
    assert sorted((p["state"], p.get("reason")) for p in pickups(lane)) == [
        ("collected", None), ("processing", None), ("refused", "order_in_progress")]


async def test_an_order_the_cloud_says_is_collected_is_refused_without_a_claim(pickup_lane: SessionLane) -> None:
    lane = pickup_lane
    refused = await collect(lane, ORDER_COLLECTED)
    assert refused is not None and refused.refused == "pickup_already_collected"
    assert lane.locker.attempts == [] and claims(lane) == []
    [event] = pickups(lane)
    assert (event["state"], event["reason"], event["order_status"]) == ("refused", "order_collected", "collected")


async def test_another_members_order_is_refused_to_the_identified_member(pickup_lane: SessionLane) -> None:
    lane = pickup_lane
    await lane.scan(lane.issuer.member(MEMBER), "qr")
    await lane.scan(TEA)
    refused = await collect(lane, ORDER_OTHER_MEMBER, MEMBER_NO_CONSENT)
    assert refused is not None and refused.refused == "pickup_other_member"
    assert "belongs to another member" in prompt(lane)["message"]
    assert lane.locker.attempts == [] and claims(lane) == []
    [event] = pickups(lane)
    assert (event["state"], event["reason"], event["member_id"]) == ("refused", "order_other_member",
                                                                      MEMBER_NO_CONSENT)
    assert event["session_id"] == lane.view["session_id"]
    assert lane.view["state"] == "scanning" and len(lane.view["lines"]) == 1, "the basket is untouched"
    assert_pickup_contract(pickups(lane))


async def test_an_order_token_issued_to_another_member_than_the_orders_is_refused(pickup_lane: SessionLane) -> None:
    lane = pickup_lane
    refused = await collect(lane, ORDER_READY, MEMBER_NO_CONSENT)
    assert refused is not None and refused.refused == "pickup_other_member"
    assert lane.locker.attempts == [] and claims(lane) == []


async def test_an_unknown_order_is_refused_with_a_message_and_an_event(pickup_lane: SessionLane) -> None:
    lane = pickup_lane
    refused = await collect(lane, ORDER_NOT_IN_CATALOG)
    assert refused is not None and refused.refused == "pickup_unknown"
    assert "not known here" in prompt(lane)["message"]
    assert lane.locker.attempts == [] and claims(lane) == []
    [event] = pickups(lane)
    assert (event["order_id"], event["state"], event["reason"]) == (ORDER_NOT_IN_CATALOG, "refused", "order_unknown")
    assert_pickup_contract(pickups(lane))


@pytest.mark.parametrize("fault", ["jammed", "offline"])
async def test_a_locker_fault_fails_the_pickup_with_the_reason_and_the_order_can_be_tried_again(
        pickup_lane: SessionLane, fault: str) -> None:
    lane = pickup_lane
    lane.locker.fault = fault
    token = lane.issuer.order(ORDER_READY, sub=MEMBER)
    await lane.scan(token, "qr")
    await lane.settled()
    assert lane.locker.opened == [] and claims(lane) == [(ORDER_READY, "failed", fault, "A3", 1, 0)]
    assert prompt(lane)["code"] == "pickup_failed" and "Please scan your order again" in prompt(lane)["message"]
    assert lane.pickups is not None and lane.pickups.health.state == "degraded"
    lane.locker.unjam()
    again = await lane.scan(token, "qr")                 # the same QR: a failed pickup burnt nothing
    await lane.settled()
    assert again is not None and again.ok and lane.locker.opened == ["A3"]
    assert claims(lane) == [(ORDER_READY, "collected", None, "A3", 2, 0)]
    events = pickups(lane)
    assert [(p["state"], p.get("reason"), p["attempt"]) for p in events] == [
        ("processing", None, 1), ("failed", fault, 1), ("processing", None, 2), ("collected", None, 2)]
    assert events[0]["claim_id"] != events[2]["claim_id"], "a retry is a new claim"
    assert lane.pickups.health.state == "ok"
    assert_pickup_contract(events)


async def test_a_locker_that_does_not_answer_in_time_fails_the_pickup_as_timeout(pickup_lane: SessionLane) -> None:
    lane = pickup_lane
    lane.locker.latency_s = 5                           # open_timeout_s is 1 in pickup_lane
    await collect(lane, ORDER_READY)
    assert claims(lane) == [(ORDER_READY, "failed", "timeout", "A3", 1, 0)]
    assert "did not answer in time" in prompt(lane)["message"]


async def test_offline_the_claim_is_recorded_all_the_same_and_flagged_for_the_cloud(
        pickup_lane: SessionLane) -> None:
    lane = pickup_lane
    clock = await lane.on_fake_clock()
    clock.advance(2 * 86400)                            # no word from the cloud for two days: the catalog is stale
    await collect(lane, ORDER_READY, ttl_s=10 * 86400)
    assert lane.locker.opened == ["A3"]
    assert claims(lane) == [(ORDER_READY, "collected", None, "A3", 1, 1)]
    processing, collected = pickups(lane)
    assert processing["offline"] is True and collected["offline"] is True
    assert processing["claimed_at"] == rfc3339_ms(clock.now()), "the claim's time is the lane's own clock"
    assert lane.lane_db is not None
    pending = lane.lane_db.reader().execute(
        "SELECT count(*) FROM outbox WHERE schema = 'omo.pickup/1' AND state = 0").fetchone()[0]
    assert pending == 2, "no uplink here: both events wait in the outbox"
    assert_pickup_contract(pickups(lane))


async def test_an_order_without_a_compartment_opens_the_same_derived_one_every_time(
        pickup_lane: SessionLane) -> None:
    lane = pickup_lane
    await collect(lane, ORDER_NO_COMPARTMENT)
    [opened] = lane.locker.opened
    order = Order(ORDER_NO_COMPARTMENT, MEMBER, (), "ready", None, 1)
    assert opened == pickup_rules.compartment_for(order, 24) and 1 <= int(opened) <= 24


async def test_a_restart_while_a_door_was_opening_fails_that_claim_so_it_may_be_scanned_again(
        pickup_lane: SessionLane) -> None:
    lane = pickup_lane
    assert lane.lane_db is not None
    decided = Plan(ORDER_READY, MEMBER, "A3", None, False, 1)
    lane.lane_db.write_blocking(pickup_claims.begin, decided, "0190a1b2-0000-7000-8000-000000000001", "simulated",
                                lane.clock.time())
    await lane.restart()                                # the lane stopped with the claim `processing`
    assert claims(lane) == [(ORDER_READY, "failed", "interrupted", "A3", 1, 0)]
    await collect(lane, ORDER_READY)
    assert claims(lane)[0][:2] == (ORDER_READY, "collected") and lane.locker.opened == ["A3"]


async def test_a_lane_without_a_locker_sends_orders_to_the_service_counter(session_lane: SessionLane) -> None:
    lane = session_lane
    refused = await lane.scan(lane.issuer.order(ORDER_READY, sub=MEMBER), "qr")
    assert refused is not None and refused.refused == "pickup_at_staffed_register"
    assert lane.events("omo.pickup/1") == [] and lane.events("omo.scan/1")[-1]["reason"] == "pickup_not_available"


# -- the pure rules ----------------------------------------------------------------------------------------------

READY = Order(ORDER_READY, MEMBER, (), "ready", "A3", 1)
SCANNING = replace(idle_session(0.0), session_id="s-1", state=SessionState.SCANNING)


def order_token(member_id: str = MEMBER) -> PickupOrder:
    claims = Claims(typ="order", sub=member_id, exp=10**10, iat=0, jti="j-1", kid="cloud-test", oid=ORDER_READY)
    return PickupOrder(order_id=ORDER_READY, member_id=member_id, claims=claims)


def claim(state: str) -> Claim:
    return Claim(ORDER_READY, "c-1", state, "A3", MEMBER, None, False, 1, 1, 0.0)


def member(member_id: str) -> MemberInfo:
    return MemberInfo(member_id, "gold", 0, True, "app")


PLAN_CASES = [
    ("ready, no visit", idle_session(0.0), READY, None, "A3"),
    ("ready, in a visit of its member", replace(SCANNING, member=member(MEMBER)), READY, None, "A3"),
    ("ready, a failed claim before", idle_session(0.0), READY, claim("failed"), "A3"),
    ("unknown", idle_session(0.0), None, None, "order_unknown"),
    ("another member identified", replace(SCANNING, member=member("M-9")), READY, None, "order_other_member"),
    ("another member's order", idle_session(0.0), replace(READY, member_id="M-9"), None, "order_other_member"),
    ("collected by this lane", idle_session(0.0), READY, claim("collected"), "order_collected"),
    ("being opened", idle_session(0.0), READY, claim("processing"), "order_in_progress"),
    ("collected says the cloud", idle_session(0.0), replace(READY, status="collected"), None, "order_collected"),
    ("cancelled", idle_session(0.0), replace(READY, status="cancelled"), None, "order_cancelled"),
    ("not ready", idle_session(0.0), replace(READY, status="packing"), None, "order_not_ready"),
    ("while paying", replace(SCANNING, state=SessionState.PAYING), READY, None, "pickup_after_payment"),
    ("lane locked", replace(SCANNING, state=SessionState.LOCKED), READY, None, "lane_locked"),
]


@pytest.mark.parametrize(("case", "session", "order", "before", "expected"), PLAN_CASES,
                         ids=[c[0] for c in PLAN_CASES])
def test_the_checks_before_a_door_opens(case: str, session: Session, order: Order | None, before: Claim | None,
                                        expected: str) -> None:
    decided = pickup_rules.plan(session, order_token(), PickupFacts(order, before, False, 1, 24))
    if isinstance(decided, Refused):
        assert decided.reason == expected
    else:
        assert decided.compartment == expected and decided.member_id == MEMBER


def test_a_derived_compartment_depends_only_on_the_order_id_and_stays_in_range() -> None:
    orders = [Order(f"O-{n}", None, (), "ready", None, 1) for n in range(200)]
    first = [pickup_rules.compartment_for(o, 24) for o in orders]
    assert first == [pickup_rules.compartment_for(o, 24) for o in orders]
    assert {int(c) for c in first} <= set(range(1, 25)) and len(set(first)) > 12
