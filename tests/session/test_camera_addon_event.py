"""A code read with an EAN/UPC add-on: the add-on rides in the scan event, the GTIN stays the product key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

from simulators.cloud.store_catalog import TEA
from simulators.fixtures.session import SessionLane

ASYNCAPI: dict[str, Any] = yaml.safe_load((Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml").read_text())


async def test_the_addon_is_in_the_scan_event_and_the_basket_line_is_the_gtin(session_lane: SessionLane) -> None:
    await session_lane.scan(TEA, addon="12")
    assert [line["gtin"] for line in session_lane.view["lines"]] == ["0" + TEA]
    (event,) = session_lane.events("omo.scan/1")
    assert (event["text"], event["gtin"], event["addon"], event["kind"]) == (TEA, "0" + TEA, "12", "product")
    schema = {"$ref": "#/components/schemas/Scan", "components": ASYNCAPI["components"]}
    jsonschema.Draft202012Validator(schema).validate(event)


async def test_a_scan_without_an_addon_has_no_addon_field(session_lane: SessionLane) -> None:
    await session_lane.scan(TEA)
    (event,) = session_lane.events("omo.scan/1")
    assert "addon" not in event
