"""Run one configured scanner under the supervisor: open it, pass its scans on, report its health."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from agent.config import DeviceSection
from agent.health import ComponentHealth
from drivers import registry
from drivers.base import ScanEvent

ScanSink = Callable[[ScanEvent], Awaitable[None]]


async def run_device(section: DeviceSection, on_scan: ScanSink, health: ComponentHealth) -> None:
    """Open the device and forward every scan; a DeviceUnavailable propagates so the supervisor retries."""
    driver = registry.create(section.name, section.driver, section.options)
    health.probe = lambda: dict(driver.counters())
    async with driver:
        health.ok()
        async for event in driver.scans():
            await on_scan(event)
