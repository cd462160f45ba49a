"""SimulatedLocker: a bank of pickup compartments in memory, with the faults a real locker has.

    locker = SimulatedLocker({"fault": "none"})     # `[pickup] locker = "simulated"` builds it the same way
    await locker.open("A3"); locker.opened          # ["A3"]
    locker.fault = "jammed"; locker.jam("A4")       # every door, or one door, sticks
    locker.fault = "offline"                        # the controller does not answer (LockerError, offline)
    locker.latency_s = 30                           # slower than [pickup] open_timeout_s: the lane gives up

Any compartment name opens unless `compartments` lists the ones that exist.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from drivers.base import DriverOptionError
from drivers.lockers import LockerError, LockerFault

FAULTS = ("none", "jammed", "offline")
OPTIONS = ("fault", "latency_ms", "compartments")


class SimulatedLocker:
    """Fault knobs: `fault` (none | jammed | offline), `jam(compartment)`, `latency_s`; `opened` records doors."""

    name = "simulated"

    def __init__(self, options: Mapping[str, object] | None = None) -> None:
        options = options or {}
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise DriverOptionError(unknown[0], f"unknown option {unknown[0]!r} (known: {', '.join(OPTIONS)})")
        fault = options.get("fault", "none")
        if fault not in FAULTS:
            raise DriverOptionError("fault", f"fault must be one of {', '.join(FAULTS)}, not {fault!r}")
        latency = options.get("latency_ms", 0)
        if type(latency) is not int or latency < 0:
            raise DriverOptionError("latency_ms", f"latency_ms must be a whole number >= 0, not {latency!r}")
        names = options.get("compartments")
        if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
            raise DriverOptionError("compartments", f"compartments must be a list of names, not {names!r}")
        self.fault: str = str(fault)
        self.latency_s = latency / 1000
        self.compartments: tuple[str, ...] | None = None if names is None else tuple(names)
        self.jammed: set[str] = set()
        self.opened: list[str] = []
        self.attempts: list[str] = []

    def jam(self, compartment: str) -> None:
        """This one door sticks until `unjam` (staff freed it)."""
        self.jammed.add(compartment)

    def unjam(self, compartment: str | None = None) -> None:
        """Free one door, or every door and the locker-wide fault."""
        if compartment is None:
            self.jammed.clear()
            self.fault = "none"
        else:
            self.jammed.discard(compartment)

    async def open(self, compartment: str) -> None:
        self.attempts.append(compartment)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)      # the locker's own time, not the lane's clock
        if self.fault == "offline":
            raise LockerError(LockerFault.OFFLINE, "the simulated locker's controller does not answer")
        if self.compartments is not None and compartment not in self.compartments:
            raise LockerError(LockerFault.NO_SUCH_COMPARTMENT, f"compartment {compartment!r} does not exist")
        if self.fault == "jammed" or compartment in self.jammed:
            raise LockerError(LockerFault.JAMMED, f"compartment {compartment!r} is jammed")
        self.opened.append(compartment)
