"""The driver contract against a real scanner, opt-in: `pytest -m hardware --serial-port PATH` or `--hid-path PATH`.

A person at the bench scans the codes the test names (print them from docs/drivers.md "Test codes") and
unplugs the scanner when asked; each wait is bounded, so a run with nobody at the bench fails, it never
hangs. Without the options these tests are skipped with the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from drivers import registry
from drivers.base import DeviceUnavailable, ScanEvent, ScannerDriver, UnavailableReason

pytestmark = pytest.mark.hardware

EAN13 = "4006381333931"
PERSON_S = 30.0        # time a person gets for each step


def say(request: pytest.FixtureRequest, text: str) -> None:
    """Print a step for the person at the bench, past pytest's output capture."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\n>>> {text}", flush=True)


async def next_event(events: AsyncIterator[ScanEvent]) -> ScanEvent:
    async with asyncio.timeout(PERSON_S):
        return await anext(events)


def _serial(path: str) -> ScannerDriver:
    return registry.create("bench", "serial", {"port": path})


def _hid(path: str, request: pytest.FixtureRequest) -> ScannerDriver:
    return registry.create("bench", "hid", {"path": path, "layout": request.config.getoption("--hid-layout")})


async def scan_once(driver: ScannerDriver, request: pytest.FixtureRequest) -> tuple[ScanEvent, dict[str, int]]:
    async with driver:
        events = aiter(driver.scans())
        say(request, f"scan the EAN-13 {EAN13} once")
        event = await next_event(events)
        return event, dict(driver.counters())


async def unplugged(driver: ScannerDriver, request: pytest.FixtureRequest) -> DeviceUnavailable:
    async with driver:
        say(request, "unplug the scanner now")
        with pytest.raises(DeviceUnavailable) as caught:
            async with asyncio.timeout(PERSON_S):
                async for _ in driver.scans():
                    pass
        return caught.value


async def test_real_serial_scanner_gives_one_event_with_text_and_symbology(
        hardware_serial_port: str, request: pytest.FixtureRequest) -> None:
    event, counters = await scan_once(_serial(hardware_serial_port), request)
    assert event.text == EAN13
    assert event.symbology in {"ean13", "unknown"}, "unknown when the scanner sends no AIM identifier"
    assert counters["good_scan_count"] == 1


async def test_real_serial_scanner_unplugged_raises_unplugged(
        hardware_serial_port: str, request: pytest.FixtureRequest) -> None:
    error = await unplugged(_serial(hardware_serial_port), request)
    assert error.reason is UnavailableReason.UNPLUGGED


async def test_real_keyboard_wedge_gives_one_event_with_the_text(
        hardware_hid_path: str, request: pytest.FixtureRequest) -> None:
    event, counters = await scan_once(_hid(hardware_hid_path, request), request)
    assert event.text == EAN13
    assert counters["good_scan_count"] == 1


async def test_real_keyboard_wedge_unplugged_raises_unplugged(
        hardware_hid_path: str, request: pytest.FixtureRequest) -> None:
    error = await unplugged(_hid(hardware_hid_path, request), request)
    assert error.reason is UnavailableReason.UNPLUGGED
