"""The configured devices: their `[[devices]]` tables, and running each one under the supervisor.

The supervisor builds a fresh driver for every attempt, so the counters a driver keeps die with it; they are
folded into the component's health counters when the attempt ends, and shown live (past attempts plus the
current one) while it runs. `/v1/health` therefore shows totals since the agent started.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.config_table import Table
from agent.errors import ConfigError
from agent.health import ComponentHealth
from drivers import registry
from drivers.base import DeviceUnavailable, ScanEvent, ScannerDriver

ScanSink = Callable[[ScanEvent], Awaitable[None]]
RECONNECTS = "reconnect_count"


@dataclass(frozen=True, slots=True)
class DeviceSection:
    name: str
    driver: str
    options: Mapping[str, Any] = field(default_factory=dict)


class DeviceRunner:
    """One configured device as a supervised component: `run` is each attempt, `probe` its live details.

    The probe goes to the supervisor with `run` (`supervisor.start(name, runner.run, probe=runner.probe)`), so
    it exists before the first attempt; it reads whichever driver the current attempt opened.
    """

    def __init__(self, section: DeviceSection, on_scan: ScanSink) -> None:
        self.section, self.on_scan = section, on_scan
        self._attempt: tuple[ScannerDriver, dict[str, int], ComponentHealth] | None = None

    def probe(self) -> dict[str, Any]:
        """The current driver's details, its counters merged into health (nothing before the first attempt)."""
        return {} if self._attempt is None else _live(*self._attempt)

    async def run(self, health: ComponentHealth) -> None:
        """Open the device and forward every scan; a DeviceUnavailable propagates so the supervisor retries."""
        section = self.section
        driver = registry.create(section.name, section.driver, section.options)
        base = dict(health.counters)   # totals of earlier attempts (and the supervisor's own "restarts")
        self._attempt = (driver, base, health)
        await _forward(driver, base, health, self.on_scan)


async def _forward(driver: ScannerDriver, base: dict[str, int], health: ComponentHealth, on_scan: ScanSink) -> None:
    """One attempt: open, say OK (and count a reopen), forward scans until the device goes or we are cancelled."""
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


def parse_devices(raw: Any, where: str, allow_simulators: bool, check: bool) -> tuple[DeviceSection, ...]:
    if not isinstance(raw, list):
        raise ConfigError("must be an array of tables: write each device as [[devices]]", path=where,
                          key="[devices]")
    devices: list[DeviceSection] = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise ConfigError("each device must be a table: write it as [[devices]] with keys below",
                              path=where, key=f"[[devices]] #{index + 1}")
        devices.append(_device(Table(entry, f"devices #{index + 1}", where), allow_simulators, check))
    names = [d.name for d in devices]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"device name {name!r} is used twice; give each device its own name",
                              path=where, key="[[devices]] name")
    return tuple(devices)


def _device(t: Table, allow_simulators: bool, check: bool) -> DeviceSection:
    name = t.string("name", pattern=r"[a-z0-9][a-z0-9_-]{0,31}",
                 fix="use lower-case letters, digits, '-' and '_', up to 32 characters")
    t = t.relabelled(f"device {name!r}")
    driver = t.string("driver", pattern=r"[a-z0-9_+.-]+")
    if driver.startswith("sim+") and not allow_simulators:
        raise t.error("driver", f"{driver!r} is a simulator", "set allow_simulators = true in [agent] "
                      "(development and CI only), or use a real driver")
    options = t.rest()
    if check:
        _check_driver_options(t, name, driver, options)
    return DeviceSection(name=name, driver=driver, options=options)


def _check_driver_options(t: Table, name: str, driver: str, options: Mapping[str, Any]) -> None:
    """Let the driver validate its own options now, so a typo fails `config check`, not the night shift."""
    from drivers.base import DriverOptionError
    from drivers.registry import UnknownDriver, create

    try:
        create(name, driver, options)
    except UnknownDriver as exc:
        raise t.error("driver", str(exc), "use serial, hid or camera, or install the third-party driver") from None
    except DriverOptionError as exc:
        raise t.error(exc.key or "driver", str(exc), "see config/agent.example.toml for this driver's keys") from None
    except ImportError as exc:
        raise t.error("driver", f"the {driver} driver cannot be loaded ({exc})",
                      f"install the extra it needs: pip install 'omo-edge[{driver}]'") from None
