"""Find a driver by name through the `omo_edge.drivers` entry-point group, importing only the one in use."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points

from drivers.base import DriverFactory, DriverOptionError, ScannerDriver

GROUP = "omo_edge.drivers"


class UnknownDriver(LookupError):
    """No installed distribution registers a driver of that name."""


def available() -> list[str]:
    """Names of every registered driver, built-in or third-party."""
    return sorted({ep.name for ep in entry_points(group=GROUP)})


def load(name: str) -> DriverFactory:
    """Import and return the driver class registered as `name`."""
    matches = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not matches:
        raise UnknownDriver(f"no driver named {name!r} (installed: {', '.join(available()) or 'none'})")
    factory: DriverFactory = matches[0].load()
    return factory


def create(name: str, driver: str, options: Mapping[str, object]) -> ScannerDriver:
    """Build (not open) the device `name` with driver `driver`; options are validated here."""
    factory = load(driver)
    try:
        return factory(name, options)
    except DriverOptionError:
        raise
    except (TypeError, ValueError) as exc:
        raise DriverOptionError("", str(exc)) from exc
