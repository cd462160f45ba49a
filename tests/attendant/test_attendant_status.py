"""The lane status (pure), its publisher (on change, heartbeat after silence, again on connect), the light rule
and the `[attendant]` section."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from agent.attendant.light_rule import light_for
from agent.attendant.publisher import StatusPublisher
from agent.attendant.settings import AttendantSection, parse_attendant
from agent.attendant.status import content, document
from agent.catalog.records import OfflinePolicy
from agent.config_table import Table
from agent.errors import ConfigError
from agent.session.rules import audit_rules
from agent.session.rules.audit_rules import start
from agent.session.rules.basket import BasketLine, add_intervention, add_item, new_session
from agent.session.rules.machine import SessionState
from agent.session.settings import SessionSection
from simulators.doubles.clock import FakeClock

ROOT = Path(__file__).resolve().parents[2]
ASYNCAPI: dict[str, Any] = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())
BEER = BasketLine(line_id="", gtin="04510000000031", name="Craft beer", quantity=1, unit_price=298, member_price=None,
                  tax_rate="0.10", department=None, position=0, age_restricted=True)


def beer_call(section: AttendantSection | None = None) -> dict[str, Any]:
    section = section or AttendantSection()
    session, line = add_item(new_session("V1", 100.0, True), BEER)
    session = replace(add_intervention(session, "age_restricted", line.line_id), state=SessionState.NEEDS_ATTENDANT)
    view = {"session_id": "V1", "state": "needs_attendant", "lane_open": True,
            "lines": [{"line_id": "L1", "gtin": BEER.gtin, "name": BEER.name, "quantity": 1, "gross": 298,
                       "age_restricted": True}], "totals": {"total": 298, "amount_due": 298}}
    return content(store_id="store-001", lane_id="lane-03", currency="JPY", heartbeat_s=30, view=view,
                   session=session, devices={"device:handheld": {"state": "ok", "reason": ""}}, uplink=True,
                   last_scan=None, section=section, light=True)


def test_a_beer_call_carries_its_detail_and_is_decided_at_the_lane_by_default() -> None:
    body = document(beer_call(), 1, 1_796_083_200.0)
    schema = {"$ref": "#/components/schemas/LaneStatus", "components": ASYNCAPI["components"]}
    jsonschema.Draft202012Validator(schema).validate(body)
    (call,) = body["interventions"]
    assert call["detail"] == {"line_id": "L1", "gtin": BEER.gtin, "name": "Craft beer", "restriction": "age_20"}
    assert (call["reason"], call["remote_allowed"], body["light"]) == ("age_restricted", False, "yellow_flashing")
    assert (body["item_count"], body["total"], body["published_at"]) == (1, 298, "2026-12-01T00:00:00.000Z")


def test_remote_age_checks_are_allowed_when_configured() -> None:
    section = parse_attendant(Table({"remote": {"age_restricted": "remote"}}, "attendant", "test.toml"))
    assert beer_call(section)["interventions"][0]["remote_allowed"] is True


@pytest.mark.parametrize("remote", [{"age_check": "remote"}, {"age_restricted": "anywhere"}])
def test_an_unknown_reason_or_place_is_refused_at_load(remote: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="remote"):
        parse_attendant(Table({"remote": remote}, "attendant", "test.toml"))


def test_the_light_rule() -> None:
    assert light_for(out_of_order=True, open_calls=2) == "red"
    assert light_for(out_of_order=False, open_calls=1) == "yellow_flashing"
    assert light_for(out_of_order=False, open_calls=0) == "green"


class Lane:
    """What the publisher reads: a content the test changes, a link up or down, what was published."""

    def __init__(self) -> None:
        self.body: dict[str, Any] = {"state": "idle", "light": "green"}
        self.up = True
        self.sent: list[dict[str, Any]] = []
        self.lights: list[str] = []

    async def publish(self, payload: bytes) -> None:
        self.sent.append(json.loads(payload))


async def test_status_is_published_on_change_after_silence_and_on_connect() -> None:
    lane, clock = Lane(), FakeClock()
    status = StatusPublisher(build=lambda: dict(lane.body), publish=lane.publish, online=lambda: lane.up,
                             heartbeat_s=30, show_light=lane.lights.append, clock=clock)
    assert await status.refresh() == 1
    clock.advance(10)
    assert await status.refresh() == 1 and len(lane.sent) == 1            # nothing changed: nothing sent
    lane.body = {"state": "needs_attendant", "light": "yellow_flashing"}
    assert await status.refresh() == 2 and lane.sent[-1]["state"] == "needs_attendant"
    clock.advance(29.9)
    await status.refresh()
    assert len(lane.sent) == 2
    clock.advance(0.1)
    assert await status.refresh() == 3 and lane.sent[-1]["status_seq"] == 3   # the heartbeat
    status.connected()
    assert await status.refresh() == 4                                      # a new connection: the state again
    assert lane.lights[-1] == "yellow_flashing"


async def test_while_offline_nothing_is_sent_but_the_light_follows_and_the_connect_sends_the_state_then() -> None:
    lane, clock = Lane(), FakeClock()
    status = StatusPublisher(build=lambda: dict(lane.body), publish=lane.publish, online=lambda: lane.up,
                             heartbeat_s=30, show_light=lane.lights.append, clock=clock)
    await status.refresh()
    lane.up = False
    lane.body = {"state": "out_of_order", "light": "red"}
    assert await status.refresh() is None and len(lane.sent) == 1 and lane.lights[-1] == "red"
    lane.up = True
    status.connected()
    assert await status.refresh() == 2 and lane.sent[-1]["state"] == "out_of_order"


@pytest.mark.parametrize(("light", "key"), [({"driver": "relay_serial"}, "light.port"),
                                            ({"driver": "no_such_light"}, "light"), ({"port": "/dev/x"}, "light")])
def test_a_light_the_driver_cannot_use_is_refused_at_load(light: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError, match=rf"\[attendant\] {key}\b"):
        parse_attendant(Table({"light": light}, "attendant", "test.toml"))


def test_an_audit_call_shows_its_lines_and_what_staff_rescanned_so_far() -> None:
    tea = replace(BEER, gtin="04510000000017", name="Green tea", age_restricted=False)
    session, _ = add_item(new_session("V1", 100.0, True), tea)
    session, _ = add_item(session, replace(tea, gtin="04510000000024", name="Onigiri"))
    policy = OfflinePolicy(audit_base_bp=10000, audit_lines=1)
    audited = start(session, 310, 0.0, policy, SessionSection(), 101.0)
    assert audited is not None
    rescanned = audit_rules.rescanned(audited.session, tea, tea.gtin, 102.0).session
    view = {"session_id": "V1", "state": "needs_attendant", "lane_open": True, "lines": [],
            "totals": {"total": 310, "amount_due": 310}}
    body = document(content(store_id="store-001", lane_id="lane-03", currency="JPY", heartbeat_s=30, view=view,
                            session=rescanned, devices={}, uplink=True, last_scan=None,
                            section=AttendantSection(), light=True), 1, 1_796_083_200.0)
    schema = {"$ref": "#/components/schemas/LaneStatus", "components": ASYNCAPI["components"]}
    jsonschema.Draft202012Validator(schema).validate(body)
    (call,) = body["interventions"]
    assert call["reason"] == "random_audit"
    assert call["detail"] == {"audit_lines": list(rescanned.audit.lines) if rescanned.audit else [],
                              "audit_rescanned": [tea.gtin], "audit_full": False}
    assert len(call["detail"]["audit_lines"]) == 1
