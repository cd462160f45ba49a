"""The device fixtures the pytest plugin hands to any test, each read by its driver as documented."""

from __future__ import annotations

import asyncio
from typing import Any

from drivers.registry import create


async def first_text(driver: str, options: dict[str, Any], act: Any) -> str:
    async with create("dev", driver, options) as scanner:
        act()
        async with asyncio.timeout(5):
            return (await anext(aiter(scanner.scans()))).text


async def test_virtual_scanner_fixture(virtual_scanner: Any) -> None:
    assert await first_text("serial", {"port": virtual_scanner.path},
                            lambda: virtual_scanner.scan("12345670", aim="]E4")) == "12345670"


async def test_hid_wedge_sim_fixture(hid_wedge_sim: Any) -> None:
    assert await first_text("sim+hid", {"path": hid_wedge_sim.path},
                            lambda: hid_wedge_sim.type("ABC-123")) == "ABC-123"


async def test_camera_sim_fixture(camera_sim: Any) -> None:
    assert await first_text("sim+camera", {"source": camera_sim.source},
                            lambda: camera_sim.show("omo:member:1", "qr")) == "omo:member:1"
