"""Money rules around the basket that an adversarial review broke: limits, interventions, coupons and points.

Each figure is worked out by hand from docs/session.md; each test names the defect it guards in plain words.
"""

from __future__ import annotations

from simulators.cloud.store_catalog import TEA
from simulators.fixtures.session import SessionLane

EXPIRED = "17200101"          # GS1 AI 17: best before 2020-01-01, long past


def expired(gtin13: str) -> str:
    """A GS1 element string for `gtin13` carrying an expiry date long past (an attendant must see it)."""
    return f"010{gtin13}{EXPIRED}"


async def test_a_scan_past_max_quantity_is_refused_and_adds_nothing(session_lane: SessionLane) -> None:
    lane = session_lane
    lane.with_settings(max_quantity=4)
    refusals = [await lane.scan(TEA) for _ in range(6)]
    assert [c.refused if c is not None else "?" for c in refusals] == [None] * 4 + ["quantity_limit"] * 2
    view = lane.view
    assert [line["quantity"] for line in view["lines"]] == [4] and view["totals"]["total"] == 4 * 150
    assert lane.controller is not None
    await lane.controller.pay("simulated")
    [sale] = lane.events("omo.sale/1")
    assert sale["total"] == 600 and sale["payment"]["amount"] == 600


async def staff_reject(lane: SessionLane) -> None:
    from agent.session import actions

    controller = lane.controller
    assert controller is not None
    await controller.apply(lambda s: actions.resolve(s, approved=False, staff_id="S-7", settings=controller.settings,
                                                     now=controller.clock.time()))


async def test_an_expired_unit_never_merges_and_a_reject_removes_only_that_unit(session_lane: SessionLane) -> None:
    lane = session_lane
    await lane.scan(TEA)
    await lane.scan(expired(TEA), "gs1-128")
    assert lane.view["state"] == "needs_attendant"
    assert [line["quantity"] for line in lane.view["lines"]] == [1, 1], "the unit under intervention is its own line"
    await staff_reject(lane)
    view = lane.view
    assert view["state"] == "scanning"
    assert [(line["line_id"], line["quantity"]) for line in view["lines"]] == [("L1", 1)]
    assert view["totals"]["total"] == 150, "the good tea stays in the basket"

