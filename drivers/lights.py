"""Lane lights (UnifiedPOS "Lights"): the signals a lane shows, the shape of a light driver, and its loader.

A tower light tells staff across the store what a lane needs: green, free; flashing yellow, help asked; red,
out of order. The lane decides the signal (a pure rule in the agent); a light driver only shows it, and like
every driver knows nothing of visits and never imports `agent`.

    async with open_light("relay_serial", {"port": "/dev/serial/by-id/usb-...", "green": 1}) as light:
        await light.show(Signal.YELLOW_FLASHING)

Flashing is the driver's job: a relay board has no flash mode, so its driver toggles the relay at 1 Hz; a
light with its own flash mode uses that. `show` raises `DeviceUnavailable` when the light is gone; the signal
asked for is kept, and the next `async with` (the supervisor's reopen) shows it again.

Lights are found by name in the entry-point group `omo_edge.lights`; each entry point names a factory
`factory(options) -> Light` that validates its options without touching the device (so `config check` can).
Built-ins are in `BUILTIN` so that finding them reads no installed package's metadata.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from types import TracebackType
from typing import Protocol, Self, cast

from drivers.base import DeviceUnavailable, UnavailableReason
from drivers.base import cannot_open as base_cannot_open
from drivers.plugins import Plugins

GROUP = "omo_edge.lights"
BUILTIN = {"relay_serial": "drivers.relay_serial:RelaySerialLight", "hid_light": "drivers.hid_light:HidLight"}
FLASH_PERIOD_S = 1.0          # 1 Hz: half a second lit, half a second dark


class Signal(StrEnum):
    GREEN = "green"                        # free
    YELLOW_FLASHING = "yellow_flashing"    # help asked
    RED = "red"                            # out of order
    OFF = "off"                            # the agent is not running the lane


class Light(Protocol):
    """One light: `async with` opens it and shows the last signal asked for; `show` changes the signal."""

    name: str

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None: ...

    async def show(self, signal: Signal) -> None: ...


class LightFactory(Protocol):
    """Builds a light from its options without touching the device."""

    def __call__(self, options: Mapping[str, object]) -> Light: ...


class UnknownLight(LookupError):
    """Neither a built-in nor an installed distribution registers a light of that name."""


def available() -> list[str]:
    """Names of every light driver: the built-ins and those registered by installed packages."""
    return _PLUGINS.available()


def load(name: str) -> LightFactory:
    """Import and return the factory registered as `name` (a built-in without reading any metadata)."""
    return _PLUGINS.load(name)


def open_light(driver: str, options: Mapping[str, object]) -> Light:
    """Build (not yet open: `async with` opens it) the light `driver`; a bad option is a DriverOptionError."""
    return cast(Light, _PLUGINS.build(driver, options))


_PLUGINS = Plugins[LightFactory]("light", GROUP, BUILTIN, UnknownLight)




def cannot_open(driver: str, path: str, exc: Exception) -> DeviceUnavailable:
    """The light could not be opened: why, and the fix."""
    return base_cannot_open(f"light {driver!r}", path, exc)


def went_away(driver: str, path: str, exc: OSError) -> DeviceUnavailable:
    """A write to an open light failed: it was unplugged (or broke); the supervisor reopens it."""
    cause = os.strerror(exc.errno) if exc.errno else str(exc)
    return DeviceUnavailable(UnavailableReason.UNPLUGGED, f"light {driver!r} at {path} went away ({cause}). "
                                                          "Fix: plug it back in; the agent reopens it by itself")
