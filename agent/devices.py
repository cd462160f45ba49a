"""Run one configured scanner under the supervisor: open it, pass its scans on, report its health.

The supervisor builds a fresh driver for every attempt, so the counters a driver keeps die with it; they are
folded into the component's health counters when the attempt ends, and shown live (past attempts plus the
current one) while it runs. `/v1/health` therefore shows totals since the agent started.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from agent.config import DeviceSection
from agent.health import ComponentHealth
from drivers import registry
from drivers.base import DeviceUnavailable, ScanEvent, ScannerDriver

ScanSink = Callable[[ScanEvent], Awaitable[None]]
RECONNECTS = "reconnect_count"


async def run_device(section: DeviceSection, on_scan: ScanSink, health: ComponentHealth) -> None:
    """Open the device and forward every scan; a DeviceUnavailable propagates so the supervisor retries."""
    driver = registry.create(section.name, section.driver, section.options)
    base = dict(health.counters)   # totals of earlier attempts (and the supervisor's own "restarts")
    health.probe = lambda: _live(driver, base, health)
    try:
        async with driver:
            if "opened_at" in health.details:
                health.count(RECONNECTS)
                base[RECONNECTS] = health.counters[RECONNECTS]
            health.details["opened_at"] = round(time.time(), 3)
            health.details.pop("unavailable", None)
            health.ok()
            async for event in driver.scans():
                await on_scan(event)
    except DeviceUnavailable as exc:
        health.details["unavailable"] = str(exc.reason)
        raise
    finally:
        _live(driver, base, health)


def _live(driver: ScannerDriver, base: Mapping[str, int], health: ComponentHealth) -> dict[str, Any]:
    """Merge the driver's counters into health and return its details (port, layout hint, ...)."""
    for key, value in driver.counters().items():
        health.counters[key] = base.get(key, 0) + value
    details = getattr(driver, "details", None)
    return dict(details()) if callable(details) else {}
