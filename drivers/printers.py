"""Receipt printers (UnifiedPOS "POSPrinter"): profiles, status, the shape of a printer driver, and its loader.

An unmanned lane that runs out of paper strands a shopper at the end of a paid visit, so a printer driver's
first job after printing is to say how the printer is. ESC/POS printers (Epson and most thermal printers in
their ESC/POS mode) answer the real-time request `DLE EOT n` with one byte each: n=1 the printer (offline),
n=2 the offline cause (cover open, paper end), n=3 the error cause, n=4 the roll paper sensor (near end, end).
Where the printer has Automatic Status Back (`GS a n`), it sends four bytes by itself whenever that changes;
the driver enables it and takes those bytes as they come, so a paper end in the middle of a job stops the job.

    async with open_printer("escpos_serial", {"port": "/dev/serial/by-id/usb-...", "profile": "tm-t20"}) as p:
        status = await p.send(job)           # PrintFailed(status, sent_bytes) if it stopped mid-job

Jobs are bytes (built with python-escpos and `drivers.escpos_text.kanji_bytes`); the driver sends them whole,
then reads the status. A printer that is gone raises `DeviceUnavailable` like every driver. Printers are found
by name in the entry-point group `omo_edge.printers`; built-ins are in `BUILTIN`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from types import MappingProxyType, TracebackType
from typing import Literal, Protocol, Self, cast

from drivers.base import DriverError, DriverOptionError

GROUP = "omo_edge.printers"
BUILTIN = {"escpos_usb": "drivers.printer_escpos:UsbPrinter", "escpos_serial": "drivers.printer_escpos:SerialPrinter",
           "escpos_network": "drivers.printer_escpos:NetworkPrinter"}
DLE_EOT = b"\x10\x04"
# USB vendor IDs of common receipt printer makers (omo-edge doctor, systemd/99-omo-edge.rules).
VENDORS = {"04b8": "Epson", "0519": "Star Micronics", "1d90": "Citizen", "1504": "Bixolon", "0dd4": "Custom",
           "154f": "SNBC", "0fe6": "ICS Advent (generic)", "28e9": "GD32 (generic)"}

KanjiMethod = Literal["fs_shift_jis", "fs_jis", "codepage"]


@dataclass(frozen=True, slots=True)
class PrinterProfile:
    """What the layout must know of a printer model: paper, characters a line, how it prints Japanese, and
    whether it draws QR codes and barcodes itself (a printer-drawn QR is a few bytes; an image QR is kilobytes
    that a 9600-baud line takes seconds to carry)."""

    name: str
    paper_mm: Literal[58, 80]
    columns: int                # characters a line in font A (12 x 24 dots)
    kanji: KanjiMethod          # FS & with Shift_JIS, FS & with JIS, or no Kanji mode (the katakana code page)
    native_qr: bool             # GS ( k
    native_barcode: bool        # GS k (Code 128 with its code sets)
    escpos_profile: str         # python-escpos's capability profile name


PROFILES: Mapping[str, PrinterProfile] = MappingProxyType({
    p.name: p for p in (
        PrinterProfile("tm-t88", 80, 42, "fs_shift_jis", True, True, "TM-T88V"),
        PrinterProfile("tm-t20", 80, 48, "fs_shift_jis", True, True, "TM-T20II"),
        PrinterProfile("tm-t20-58", 58, 32, "fs_shift_jis", True, True, "TM-T20II"),
        PrinterProfile("citizen-ct-s310", 80, 48, "fs_shift_jis", True, True, "CT-S651"),
        PrinterProfile("star-tsp100-escpos", 80, 48, "fs_jis", True, True, "TSP600"),
        PrinterProfile("generic-58", 58, 32, "codepage", False, True, "default"),
    )
})


Reason = Literal["paper_out", "cover_open", "offline", "error", "near_end"]


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """The printer as its last status bytes said; `reason` is the one that matters most (None: ready)."""

    online: bool
    cover_open: bool
    paper_near_end: bool
    paper_out: bool
    error: bool
    reason: Reason | None

    @property
    def stops_printing(self) -> bool:
        """Paper out, cover open, offline or an error: nothing more prints until someone comes."""
        return self.reason in ("paper_out", "cover_open", "offline", "error")


def status_of(*, offline: bool, cover_open: bool, paper_near_end: bool, paper_out: bool,
              error: bool) -> PrinterStatus:
    """A PrinterStatus whose reason follows from the flags, the worst first."""
    reason: Reason | None = ("paper_out" if paper_out else "cover_open" if cover_open else "error" if error
                             else "offline" if offline else "near_end" if paper_near_end else None)
    return PrinterStatus(not offline, cover_open, paper_near_end, paper_out, error, reason)


def is_dle_eot_reply(byte: int) -> bool:
    """A `DLE EOT n` reply has the fixed bits 0xx1xx10; an ASB block's first byte has 0xx1xx00."""
    return byte & 0x93 == 0x12


def is_asb_head(byte: int) -> bool:
    return byte & 0x93 == 0x10


def from_dle_eot(printer: int, offline_cause: int, error_cause: int, paper: int) -> PrinterStatus:
    """The four replies to `DLE EOT 1`, `2`, `3`, `4` as a status."""
    return status_of(offline=bool(printer & 0x08), cover_open=bool(offline_cause & 0x04),
                     paper_near_end=bool(paper & 0x0C), paper_out=bool(paper & 0x60) or bool(offline_cause & 0x20),
                     error=bool(offline_cause & 0x40) or bool(error_cause & 0x6C))


def from_asb(block: bytes) -> PrinterStatus:
    """The four bytes of an Automatic Status Back as a status (byte 1 offline/cover, 2 errors, 3 paper)."""
    first, second, third = block[0], block[1], block[2]
    return status_of(offline=bool(first & 0x08), cover_open=bool(first & 0x20), paper_near_end=bool(third & 0x03),
                     paper_out=bool(third & 0x0C), error=bool(second & 0x6C))


class PrintFailed(DriverError):
    """The printer stopped before the job was done; `status` says why, `sent_bytes` how much of it went out."""

    def __init__(self, status: PrinterStatus, sent_bytes: int) -> None:
        self.status = status
        self.sent_bytes = sent_bytes
        fix = {"paper_out": "load a new roll", "cover_open": "close the cover",
               "offline": "check the printer's power and cable", "error": "clear the jam or error, power-cycle it",
               }.get(status.reason or "", "check the printer")
        super().__init__(f"the printer stopped after {sent_bytes} bytes ({status.reason}). Fix: {fix}, then reprint")


class Printer(Protocol):
    """One printer: `async with` opens it; `status` asks it; `send` prints a whole job and returns the status."""

    name: str
    profile: PrinterProfile

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None: ...

    async def status(self) -> PrinterStatus: ...

    async def send(self, job: bytes) -> PrinterStatus: ...


class PrinterFactory(Protocol):
    """Builds a printer from its options without touching the device."""

    def __call__(self, options: Mapping[str, object]) -> Printer: ...


class UnknownPrinter(LookupError):
    """Neither a built-in nor an installed distribution registers a printer of that name."""


def profile_named(name: str) -> PrinterProfile:
    """The profile `name`, or a DriverOptionError listing the known ones."""
    if name not in PROFILES:
        raise DriverOptionError("profile", f"no printer profile {name!r}. Fix: use one of {', '.join(PROFILES)}")
    return PROFILES[name]


def available() -> list[str]:
    """Names of every printer driver: the built-ins and those registered by installed packages."""
    return sorted(set(BUILTIN) | {ep.name for ep in entry_points(group=GROUP)})


def load(name: str) -> PrinterFactory:
    """Import and return the factory registered as `name` (a built-in without reading any metadata)."""
    if name in BUILTIN:
        module, _, attr = BUILTIN[name].partition(":")
        return cast(PrinterFactory, getattr(importlib.import_module(module), attr))
    matches = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not matches:
        raise UnknownPrinter(f"no printer driver named {name!r}. Fix: use one of {', '.join(available())}")
    return cast(PrinterFactory, matches[0].load())


def open_printer(driver: str, options: Mapping[str, object]) -> Printer:
    """Build (not yet open: `async with` opens it) the printer `driver`; a bad option is a DriverOptionError."""
    factory = load(driver)
    try:
        return factory(options)
    except DriverOptionError:
        raise
    except (TypeError, ValueError) as exc:
        raise DriverOptionError("", f"the {driver} printer refused its options: {exc}") from exc
