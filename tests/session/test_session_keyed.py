"""Product codes typed on the screen's keypad follow `[session] keyed_codes`: in an unmanned store a typed code
could be a cheaper item's, so by default staff approve each one (`approval`); `allowed` adds it like a scan,
`refused` turns it away. Scanned codes, and typed codes that are not products (a suspend code), are not
affected."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from agent.config import ConfigError, load
from agent.session.rules import action_rules
from agent.session.settings import SessionSection
from simulators.cloud.store_catalog import TEA
from simulators.fixtures.session import SessionLane


async def keyed_lane(lane: SessionLane, policy: str) -> SessionLane:
    lane.settings = replace(lane.settings, keyed_codes=policy)
    await lane.restart()
    return lane


def test_the_default_is_approval_by_staff() -> None:
    assert SessionSection().keyed_codes == "approval"


async def test_approval_adds_the_item_and_calls_staff_who_may_reject_it(session_lane: SessionLane) -> None:
    assert session_lane.pipeline is not None
    change = await session_lane.pipeline.manual_entry(TEA)
    view = session_lane.view
    assert change is not None and view["state"] == "needs_attendant"
    assert [i["reason"] for i in view["interventions"]] == ["keyed_code"] and len(view["lines"]) == 1
    assert view["prompts"][0]["code"] == "attendant_keyed_code"
    assert session_lane.events("omo.scan/1")[-1]["outcome"] == "attendant"
    await session_lane.scan(session_lane.issuer.staff("S-7"), "qr")      # staff look at the item: approved
    assert session_lane.view["state"] == "scanning" and len(session_lane.view["lines"]) == 1
    await session_lane.pipeline.manual_entry(TEA)                        # every typed product, not once a visit
    assert session_lane.view["state"] == "needs_attendant"


async def test_a_scanned_code_needs_no_approval(session_lane: SessionLane) -> None:
    await session_lane.scan(TEA)
    assert session_lane.view["state"] == "scanning" and not session_lane.view["interventions"]


async def test_allowed_adds_a_typed_code_like_a_scan(session_lane: SessionLane) -> None:
    lane = await keyed_lane(session_lane, "allowed")
    assert lane.pipeline is not None
    await lane.pipeline.manual_entry(TEA)
    assert lane.view["state"] == "scanning" and lane.view["lines"][0]["quantity"] == 1


async def test_refused_turns_a_typed_product_away_and_changes_nothing(session_lane: SessionLane) -> None:
    lane = await keyed_lane(session_lane, "refused")
    assert lane.pipeline is not None
    await lane.scan(TEA)
    before = lane.view
    change = await lane.pipeline.manual_entry(TEA)
    assert change is not None and change.refused == "keyed_code_refused"
    after = lane.view
    assert after["lines"] == before["lines"] and after["totals"] == before["totals"]
    assert after["prompts"][0]["code"] == "keyed_code_refused"
    assert lane.events("omo.scan/1")[-1]["outcome"] == "rejected"
    await lane.scan(TEA)
    assert lane.view["lines"][0]["quantity"] == 2                       # the scanner still sells it


async def test_refused_still_takes_a_typed_suspend_code(session_lane: SessionLane) -> None:
    lane = await keyed_lane(session_lane, "refused")
    assert lane.pipeline is not None and lane.controller is not None
    await lane.scan(TEA)
    settings = lane.controller.settings
    await lane.controller.apply(lambda s: action_rules.suspend(s, settings, lane.clock.time()))
    code = lane.view["suspend_code"]
    await lane.pipeline.manual_entry(code)
    assert lane.view["state"] == "scanning" and len(lane.view["lines"]) == 1


def test_the_config_key_takes_only_the_three_policies(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text('[agent]\nstore_id = "s"\nlane_id = "l"\n[session]\nkeyed_codes = "sometimes"\n')
    with pytest.raises(ConfigError, match=r"keyed_codes.*allowed.*approval.*refused"):
        load(path)
    path.write_text('[agent]\nstore_id = "s"\nlane_id = "l"\n[session]\nkeyed_codes = "refused"\n')
    assert load(path).session.keyed_codes == "refused"


async def test_a_typed_unit_is_a_line_of_its_own_so_a_reject_takes_only_it(session_lane: SessionLane) -> None:
    assert session_lane.pipeline is not None
    await session_lane.scan(TEA)
    await session_lane.pipeline.manual_entry(TEA)                       # not merged into the scanned tea
    assert [line["quantity"] for line in session_lane.view["lines"]] == [1, 1]
    controller = session_lane.controller
    assert controller is not None
    await controller.apply(lambda s: action_rules.resolve(s, approved=False, staff_id="S-7",
                                                          settings=controller.settings, now=session_lane.clock.time()))
    assert [line["quantity"] for line in session_lane.view["lines"]] == [1]
    assert session_lane.view["state"] == "scanning"
