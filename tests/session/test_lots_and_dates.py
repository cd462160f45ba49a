"""A product label's lot and dates at the scan (docs/session.md, "Lots and dates"), through the real pipeline,
session, catalog and lane.db: a recalled lot is refused with the stop's message, a past expiry is refused on a
trusted clock, and every refusal changes nothing but the prompt while the scan event keeps the lot."""

from __future__ import annotations

import asyncio

from agent.catalog.catalog_sync import CatalogSync
from agent.catalog.delta import Outcome
from simulators.cloud.catalog_data import delta_payload
from simulators.cloud.store_catalog import ONIGIRI, TEA
from simulators.fixtures.session import SessionLane

RECALL = "Do not eat; return it to the service counter for a refund"
STOP = {"kind": "sale_stop", "gtin": TEA, "lot": "L2026A", "reason": "recall", "message": RECALL,
        "message_ja": "召し上がらずにサービスカウンターへお持ちください"}


def label(gtin13: str, *, expiry: str | None = None, lot: str | None = None) -> str:
    """A GS1 element string (no FNC1 needed: the variable-length lot goes last); `expiry` as YYMMDD."""
    return f"010{gtin13}" + (f"17{expiry}" if expiry else "") + (f"10{lot}" if lot else "")


async def change_catalog(lane: SessionLane, base: int, *lines: dict[str, object]) -> None:
    assert lane.catalog is not None
    sync = CatalogSync(lane.catalog, None, max_age_s=86400, poll_interval_s=3600)
    async with asyncio.timeout(20):
        assert await sync.apply(delta_payload(base, base + 1, lines)) is Outcome.APPLIED


async def test_a_recalled_lot_is_refused_with_its_message_and_changes_nothing(session_lane: SessionLane) -> None:
    lane = session_lane
    await change_catalog(lane, 1, STOP)
    await lane.scan(ONIGIRI)
    before = lane.view
    refused = await lane.scan(label(TEA, expiry="301231", lot="L2026A"), "gs1-datamatrix")
    assert refused is not None and refused.refused == "recalled_lot"
    after = lane.view
    assert after["lines"] == before["lines"] and after["totals"] == before["totals"]
    [prompt] = after["prompts"]
    assert (prompt["code"], prompt["message"], prompt["level"]) == ("recalled_lot", RECALL, "error")
    assert prompt["args"] == {"message": RECALL, "reason": "recall", "lot": "L2026A", "message_ja": STOP["message_ja"]}
    scan = lane.events("omo.scan/1")[-1]
    assert (scan["outcome"], scan["reason"], scan["stop_reason"]) == ("rejected", "recalled_lot", "recall")
    assert (scan["lot"], scan["expiry"], scan["gtin"]) == ("L2026A", "2030-12-31", "0" + TEA)


async def test_another_lot_sells_and_its_event_carries_the_lot(session_lane: SessionLane) -> None:
    lane = session_lane
    await change_catalog(lane, 1, STOP)
    accepted = await lane.scan(label(TEA, lot="L2026B"), "qr")
    assert accepted is not None and accepted.ok and len(lane.view["lines"]) == 1
    scan = lane.events("omo.scan/1")[-1]
    assert (scan["outcome"], scan["lot"]) == ("accepted", "L2026B") and "expiry" not in scan
    plain = await lane.scan(TEA)
    assert plain is not None and plain.ok, "a code without a lot meets only an every-lot stop"


async def test_an_every_lot_stop_refuses_codes_with_any_lot_or_none(session_lane: SessionLane) -> None:
    lane = session_lane
    await change_catalog(lane, 1, {**STOP, "lot": "*"})
    for code, symbology in ((label(TEA, lot="X1"), "gs1-128"), (TEA, "ean13")):
        refused = await lane.scan(code, symbology)
        assert refused is not None and refused.refused == "recalled_lot"
    assert lane.view["lines"] == []


async def test_a_sale_stop_added_by_delta_refuses_and_its_delete_lifts_it(session_lane: SessionLane) -> None:
    lane = session_lane
    code = label(TEA, lot="L2026A")
    await change_catalog(lane, 1, STOP)
    refused = await lane.scan(code, "gs1-datamatrix")
    assert refused is not None and refused.refused == "recalled_lot"
    await change_catalog(lane, 2, {"kind": "delete", "of": "sale_stop", "id": TEA, "lot": "L2026A"})
    sold = await lane.scan(code, "gs1-datamatrix")
    assert sold is not None and sold.ok and [line["quantity"] for line in lane.view["lines"]] == [1]


async def test_a_past_expiry_on_a_trusted_clock_is_refused_and_changes_nothing(session_lane: SessionLane) -> None:
    lane = session_lane
    await lane.scan(TEA)
    before = lane.view
    refused = await lane.scan(label(TEA, expiry="200101", lot="L9"), "gs1-128")
    assert refused is not None and refused.refused == "expired_item"
    after = lane.view
    assert after["lines"] == before["lines"] and after["state"] == "scanning" and not after["interventions"]
    assert after["prompts"][0]["code"] == "expired_item"
    scan = lane.events("omo.scan/1")[-1]
    assert (scan["outcome"], scan["reason"], scan["lot"], scan["expiry"]) == ("rejected", "expired", "L9",
                                                                              "2020-01-01")
    assert [e["event"] for e in lane.events("omo.session/1")] == ["started"], "no attendant is called"


async def test_a_digital_link_with_a_recalled_lot_is_refused_and_its_event_carries_the_lot(
        session_lane: SessionLane) -> None:
    lane = session_lane
    await change_catalog(lane, 1, {**STOP, "lot": "ABC/1"})
    refused = await lane.scan(f"https://id.gs1.org/01/0{TEA}/10/ABC%2F1?17=301231", "qr")
    assert refused is not None and refused.refused == "recalled_lot" and lane.view["lines"] == []
    scan = lane.events("omo.scan/1")[-1]
    assert (scan["reason"], scan["lot"], scan["expiry"]) == ("recalled_lot", "ABC/1", "2030-12-31")
