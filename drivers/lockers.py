"""Pickup lockers: the protocol a locker driver implements and the loader that finds one by name.

A lane hands an online order over by asking a locker to open the order's compartment. A locker driver knows
compartments and latches, nothing about orders or members (that is the agent's `agent/session/pickup_handover.py`),
and, like every driver, never imports `agent`.

    DriverError
    └── LockerError          the compartment did not open; `fault` says why (jammed, offline, ...)

Lockers are found by name in the entry-point group `omo_edge.lockers`; each entry point names a factory
`factory(options) -> Locker`. Built-ins are in `BUILTIN` so that finding them scans no installed package's
metadata (as `agent/payment/registry.py` does); only the locker in use is imported.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from enum import StrEnum
from importlib.metadata import entry_points
from typing import Protocol, cast

from drivers.base import DriverError, DriverOptionError

GROUP = "omo_edge.lockers"
BUILTIN = {"simulated": "simulators.devices.locker:SimulatedLocker"}


class LockerFault(StrEnum):
    JAMMED = "jammed"                          # the latch did not move
    OFFLINE = "offline"                        # the locker's controller does not answer
    NO_SUCH_COMPARTMENT = "no_such_compartment"
    FAILED = "failed"                          # anything else the driver can name


class LockerError(DriverError):
    """The compartment is not open; `fault` is the reason recorded with the failed pickup."""

    def __init__(self, fault: LockerFault, message: str) -> None:
        self.fault = fault
        super().__init__(message)


class Locker(Protocol):
    """One bank of compartments; `open` returns once the door is unlatched, else raises LockerError."""

    name: str

    async def open(self, compartment: str) -> None: ...


class LockerFactory(Protocol):
    """Builds a locker from its options without touching the hardware (so `config check` can)."""

    def __call__(self, options: Mapping[str, object]) -> Locker: ...


class UnknownLocker(LookupError):
    """Neither a built-in nor an installed distribution registers a locker of that name."""


def available() -> list[str]:
    """Names of every locker: the built-ins and those registered by installed packages."""
    return sorted(set(BUILTIN) | {ep.name for ep in entry_points(group=GROUP)})


def load(name: str) -> LockerFactory:
    """Import and return the factory registered as `name` (a built-in without reading any metadata)."""
    if name in BUILTIN:
        module, _, attr = BUILTIN[name].partition(":")
        return cast(LockerFactory, getattr(importlib.import_module(module), attr))
    matches = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not matches:
        raise UnknownLocker(f"no locker named {name!r} (installed: {', '.join(available())})")
    return cast(LockerFactory, matches[0].load())


def create(name: str, options: Mapping[str, object]) -> Locker:
    """Build (not open) the locker `name`; a bad option is a DriverOptionError naming it."""
    factory = load(name)
    try:
        return factory(options)
    except DriverOptionError:
        raise
    except (TypeError, ValueError) as exc:
        raise DriverOptionError("", str(exc)) from exc
