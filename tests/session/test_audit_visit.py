"""A random audit through the real pipeline, session and lane.db: drawn at payment, rescanned with the lane's
scanner, compared, corrected with staff approval, reported in `omo.audit/1`, on the screen and the receipt."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from agent.catalog.load import load_snapshot
from agent.session.rules import action_rules
from agent.session.rules.audit_policy import pick_lines
from simulators.cloud.catalog_data import write_lines
from simulators.cloud.store_catalog import (
    BATTERIES,
    BEEF,
    BEER,
    MEMBER,
    MEMBER_NO_CONSENT,
    ONIGIRI,
    TEA,
    beef_label,
    deli_label,
    records,
)
from simulators.fixtures.session import SessionLane

ROOT = Path(__file__).resolve().parents[2]
ASYNCAPI: dict[str, Any] = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())
I18N = {lang: yaml.safe_load((ROOT / "agent" / "api" / "static" / "i18n" / f"{lang}.json").read_text())
        for lang in ("en", "ja")}


def validate(schema_name: str, payload: dict[str, Any]) -> None:
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": ASYNCAPI["components"]}
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(payload)


async def audited_lane(lane: SessionLane, *codes: str) -> None:
    await lane.with_settings(audit_rate=1.0)
    lane.audit_draw = 0.0
    for code in codes:
        await lane.scan(code)
    change = await lane.checkout.pay("simulated")
    assert change.refused == "random_audit"


async def test_a_missing_item_is_found_added_with_staff_approval_and_shown_on_event_screen_and_receipt(
        session_lane: SessionLane) -> None:
    lane = session_lane
    await audited_lane(lane, TEA, BATTERIES)
    [call] = lane.view["interventions"]
    assert call["reason"] == "random_audit" and list(call["audit_lines"]) == ["L1", "L2"]
    for code in (TEA, BATTERIES, ONIGIRI):            # staff rescan: an onigiri was bagged without a scan
        await lane.scan(code)
    view = lane.view
    assert [line["gtin"] for line in view["lines"]] == ["0" + TEA, "0" + BATTERIES], "audit scans add nothing"
    assert view["prompts"][0]["code"] == "audit_rescanned" and view["prompts"][0]["args"]["count"] == "3"
    await lane.scan(lane.issuer.staff("S-7"), "qr")   # approved: the missing item is added
    view = lane.view
    assert view["state"] == "scanning"
    assert [(line["gtin"], line["quantity"]) for line in view["lines"]] == [
        ("0" + TEA, 1), ("0" + BATTERIES, 1), ("0" + ONIGIRI, 1)]
    assert view["totals"]["total"] == 150 + 498 + 160
    prompt = view["prompts"][0]
    assert (prompt["code"], prompt["args"]) == ("audit_difference", {"differences": "1", "added": "1"})
    for lang in ("en", "ja"):                         # the kiosk says it in both languages, with the counts
        text = I18N[lang]["prompt.audit_difference"]
        assert "{differences}" in text and "{added}" in text
    [audit] = lane.events("omo.audit/1")
    validate("Audit", audit)
    assert (audit["result"], audit["outcome"], audit["staff_id"], audit["full"]) == ("mismatch", "approved",
                                                                                     "S-7", True)
    assert audit["differences"] == [{"kind": "missing_item", "gtin": "0" + ONIGIRI, "basket_quantity": 0,
                                     "found_quantity": 1}]
    assert audit["added"] == [{"line_id": "L3", "gtin": "0" + ONIGIRI, "quantity": 1}]
    await lane.checkout.pay("simulated")                # audited once: the payment goes through now
    assert lane.view["state"] == "paid"
    [sale] = lane.events("omo.sale/1")
    validate("Sale", sale)
    assert sale["total"] == 808 and [i["amount"] for i in sale["receipt"]["items"]] == [150, 498, 160]
    assert sale["receipt"]["audit"] == [{"label": "Audit: missing item", "kind": "missing_item",
                                         "gtin": "0" + ONIGIRI, "basket_quantity": 0, "found_quantity": 1}]


async def test_a_matching_rescan_adds_nothing_and_says_so(session_lane: SessionLane) -> None:
    lane = session_lane
    await audited_lane(lane, TEA, TEA)
    await lane.scan(TEA)
    await lane.scan(TEA)
    await lane.scan(lane.issuer.staff("S-7"), "qr")
    [audit] = lane.events("omo.audit/1")
    assert (audit["result"], audit["differences"], audit["added"]) == ("match", [], [])
    assert lane.view["prompts"][0]["code"] == "audit_match" and lane.view["totals"]["total"] == 300
    await lane.checkout.pay("simulated")
    [sale] = lane.events("omo.sale/1")
    assert "audit" not in sale["receipt"]


async def test_a_rejected_audit_records_the_difference_and_adds_nothing(session_lane: SessionLane) -> None:
    lane = session_lane
    await audited_lane(lane, TEA)
    await lane.scan(TEA)
    await lane.scan(TEA)                                # two teas in the bag, one scanned
    assert lane.controller is not None
    call = lane.view["interventions"][0]["intervention_id"]
    await lane.controller.apply(lambda s: action_rules.resolve(    # as the station's reject does
        s, approved=False, staff_id="S-7", settings=lane.settings, now=time.time(), intervention_id=call,
        via="station"))
    [audit] = lane.events("omo.audit/1")
    assert audit["outcome"] == "rejected" and audit["added"] == []
    assert audit["differences"] == [{"kind": "quantity_low", "gtin": "0" + TEA, "basket_quantity": 1,
                                     "found_quantity": 2}]
    assert lane.view["totals"]["total"] == 150


async def test_a_partial_audit_asks_for_the_k_lines_the_visit_id_picks(session_lane: SessionLane) -> None:
    lane = session_lane
    await lane.with_settings(audit_rate=1.0)
    lane.audit_draw = 0.0
    for code in (TEA, ONIGIRI, BATTERIES, BEER):
        await lane.scan(code)
    await lane.scan(lane.issuer.staff("S-7"), "qr")        # the beer's age check
    change = await lane.checkout.pay("simulated")
    assert change.refused == "random_audit"
    [call] = lane.view["interventions"]
    picked = pick_lines(lane.view["session_id"], ("L1", "L2", "L3", "L4"), 3)
    assert len(picked) == 3 and tuple(call["audit_lines"]) == picked


async def with_catalog(lane: SessionLane, members: dict[str, dict[str, Any]], **policy: Any) -> None:
    """The store's catalog again, with these members' audit history and these audit policy keys."""
    assert lane.catalog is not None
    lines = [{**line, **members.get(line.get("id", ""), {})} if line.get("kind") == "member" else line
             for line in records(2)]
    lines += [{"kind": "policy", "key": key, "value": value, "version": 2} for key, value in policy.items()]
    load_snapshot(lane.catalog, write_lines(lane.state_dir.parent / "audit.jsonl", lines, version=2))


async def test_a_member_with_clean_audits_is_trusted_and_one_with_findings_is_not(session_lane: SessionLane) -> None:
    """The member's audit history comes with the member record; the policy weighs it at payment."""
    lane = session_lane
    await with_catalog(lane, {MEMBER: {"since": "2020-04-01", "audits": 6, "audit_findings": 0},
                              MEMBER_NO_CONSENT: {"since": "2020-04-01", "audits": 6, "audit_findings": 2}},
                       audit_base_bp=3000, audit_clean_bp=500, audit_finding_bp=1000)
    lane.audit_draw = 0.25                              # audited below 25 %
    await lane.scan(lane.issuer.member(MEMBER), "qr")
    await lane.scan(TEA)
    assert (await lane.checkout.pay("simulated")).ok, "3000 - 6 x 500: no audit for a trusted member"
    assert lane.view["state"] == "paid"
    await lane.scan(lane.issuer.member(MEMBER_NO_CONSENT), "qr")
    await lane.scan(TEA)
    change = await lane.checkout.pay("simulated")       # 3000 + 2 x 1000 - 4 x 500 = 3000 bp
    assert change.refused == "random_audit"


async def test_a_new_member_adds_the_new_member_factor(session_lane: SessionLane) -> None:
    lane = session_lane
    today = time.strftime("%Y-%m-%d", time.gmtime())
    await with_catalog(lane, {MEMBER: {"since": today}}, audit_new_member_bp=5000)
    lane.audit_draw = 0.4
    await lane.scan(lane.issuer.member(MEMBER), "qr")
    await lane.scan(TEA)
    assert (await lane.checkout.pay("simulated")).refused == "random_audit"
    [audit_call] = lane.events("omo.session/1")[-1:]
    assert audit_call["event"] == "attendant_requested" and audit_call["reason"] == "random_audit"


async def test_a_basket_with_nothing_to_pay_is_audited_by_the_catalog_policy_too(session_lane: SessionLane) -> None:
    """A zero total is a `no_charge` sale, taken through the same payment request: the policy's chance holds."""
    lane = session_lane
    await with_catalog(lane, {}, audit_base_bp=10000)
    lane.audit_draw = 0.5
    await lane.scan(deli_label(0))
    change = await lane.checkout.pay("simulated")
    assert change.refused == "random_audit" and lane.view["state"] == "needs_attendant"
    assert lane.events("omo.sale/1") == []


async def test_a_cheap_item_scanned_and_another_bagged_widens_then_adds_the_bagged_one(
        session_lane: SessionLane) -> None:
    lane = session_lane
    await with_catalog(lane, {}, audit_base_bp=10000, audit_lines=1)
    lane.audit_draw = 0.0
    for code in (ONIGIRI, ONIGIRI, TEA):
        await lane.scan(code)
    await lane.checkout.pay("simulated")
    [call] = lane.view["interventions"]
    assert len(call["audit_lines"]) == 1
    await lane.scan(BATTERIES)             # the bag holds batteries and a tea: a difference whichever line was picked
    await lane.scan(lane.issuer.staff("S-7"), "qr")                 # a difference: every line now
    assert list(lane.view["interventions"][0]["audit_lines"]) == ["L1", "L2"]
    assert "audit_widened" in [e["event"] for e in lane.events("omo.session/1")]
    await lane.scan(TEA)                                            # the rest of the bag
    await lane.scan(lane.issuer.staff("S-7"), "qr")
    [audit] = lane.events("omo.audit/1")
    assert audit["full"] and audit["result"] == "mismatch"
    assert audit["differences"] == [{"kind": "different_item", "gtin": "0" + BATTERIES, "basket_quantity": 0,
                                     "found_quantity": 1, "replaces": "0" + ONIGIRI, "replaces_quantity": 2}]
    assert [(line["gtin"], line["quantity"]) for line in lane.view["lines"]] == [
        ("0" + ONIGIRI, 2), ("0" + TEA, 1), ("0" + BATTERIES, 1)], "added; the line not found stays for staff"


async def test_weighed_labels_found_above_the_basket_are_each_added_at_their_own_amount(
        session_lane: SessionLane) -> None:
    lane = session_lane
    await audited_lane(lane, beef_label(450))
    for label in (beef_label(450), beef_label(300), beef_label(200)):     # two more packs in the bag
        await lane.scan(label, "gs1-128")
    await lane.scan(lane.issuer.staff("S-7"), "qr")
    [audit] = lane.events("omo.audit/1")
    assert audit["differences"] == [{"kind": "quantity_low", "gtin": "0" + BEEF, "basket_quantity": 1,
                                     "found_quantity": 3}]
    amounts = [line["fixed_amount"] for line in lane.view["lines"]]
    assert amounts == [1791, 1194, 796], "398 per 100 g: 450 g, then the two packs found, each at its label"
