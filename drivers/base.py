"""What every scanner driver gives the agent: frozen scan events, one driver shape, one error tree.

    DriverError                  anything a driver raises on purpose
    ├── DriverOptionError        a config option the driver cannot use (names the key)
    └── DeviceUnavailable        the device cannot be used now; `reason` says why; the supervisor retries

Drivers know bytes and symbologies, nothing about prices or members, and never import `agent`.
"""

from __future__ import annotations

import errno
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Protocol, Self


class UnavailableReason(StrEnum):
    NOT_FOUND = "not_found"
    PERMISSION = "permission"
    BUSY = "busy"
    UNPLUGGED = "unplugged"
    FAILED = "failed"


class DriverError(Exception):
    """Base of the drivers' errors."""


class DriverOptionError(DriverError):
    """A device option that cannot be used; `key` names it, the message says the fix."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


class DeviceUnavailable(DriverError):
    """The device is absent, not permitted, busy or gone; the supervisor reopens it with back-off."""

    def __init__(self, reason: UnavailableReason, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class ScanEvent:
    """One decoded scan, exactly as the device reported it (not yet interpreted)."""

    device: str              # configured device name, e.g. "handheld"
    symbology: str           # e.g. "ean13", "upca", "code128", "gs1-128", "qr", "unknown"
    data: bytes              # the payload as received, prefix/suffix/AIM stripped, GS (0x1D) kept
    text: str                # data decoded for people and the interpreter
    raw: bytes               # exactly what arrived, for diagnostics
    received_at: float       # wall clock (time.time()) at frame completion
    monotonic: float         # time.monotonic() at frame completion
    aim: str | None = None   # AIM symbology identifier such as "]E0", when the device sent one
    addon: str | None = None  # an EAN/UPC add-on (2 or 5 digits) read beside the code; never part of data


class ScannerDriver(Protocol):
    """One physical device: `async with driver:` opens and claims it, `scans()` yields its events."""

    name: str

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None: ...

    def scans(self) -> AsyncIterator[ScanEvent]: ...

    def counters(self) -> Mapping[str, int]: ...


class DriverFactory(Protocol):
    """A driver class: built from its name and options without touching the device (so config check can)."""

    def __call__(self, name: str, options: Mapping[str, object]) -> ScannerDriver: ...


_OPEN_REASONS = {errno.ENOENT: UnavailableReason.NOT_FOUND, errno.ENODEV: UnavailableReason.NOT_FOUND,
                 errno.ENXIO: UnavailableReason.NOT_FOUND, errno.EACCES: UnavailableReason.PERMISSION,
                 errno.EPERM: UnavailableReason.PERMISSION, errno.EBUSY: UnavailableReason.BUSY,
                 errno.EAGAIN: UnavailableReason.BUSY}


def cannot_open(what: str, path: str, exc: Exception, thing: str = "device") -> DeviceUnavailable:
    """A device could not be opened: why, and the fix in the words `omo-edge doctor` and docs/operations/udev.md
    use. `what` names it in the message ("scanner 'handheld'"), `thing` is what the fix speaks of ("port")."""
    reason = _OPEN_REASONS.get(getattr(exc, "errno", None) or 0, UnavailableReason.FAILED)
    if "exclusively lock" in str(exc):
        reason = UnavailableReason.BUSY
    elif reason is UnavailableReason.FAILED and not os.path.exists(path):
        reason = UnavailableReason.NOT_FOUND
    fix = {UnavailableReason.NOT_FOUND: f"check the cable and the {thing} path (omo-edge doctor lists {thing}s)",
           UnavailableReason.PERMISSION: f"give the {thing} to group omo-edge with a udev rule in "
                                         "/etc/udev/rules.d/99-omo-edge-local.rules (docs/operations/udev.md)",
           UnavailableReason.BUSY: f"another program holds the {thing}; stop it (ModemManager, a terminal)"
           }.get(reason, "see the error; the agent retries with back-off")
    return DeviceUnavailable(reason, f"{what}: cannot open {path} ({exc}). Fix: {fix}")
