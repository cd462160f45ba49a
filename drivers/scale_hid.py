"""A USB HID POS scale (usage page 0x8D, "Scale"), read from /dev/hidrawN through a plain file descriptor.

HID scales (Dymo, Stamps.com, Mettler Toledo PS-series and others) send input reports by themselves; the driver
only reads. The weight is report ID 3, six bytes as the HID POS usage tables lay out the Scale Data report:

    03  status  unit  exponent  weight LSB  weight MSB
        status  1 fault, 2 stable at zero, 3 in motion, 4 stable, 5 under zero, 6 over weight limit,
                7 requires calibration, 8 requires re-zeroing
        unit    1 mg, 2 g, 3 kg, 11 ounce, 12 pound (the usage table's other units are refused as garbled)
        exponent  a signed byte: weight x 10^exponent in the unit
        weight  unsigned 16 bits, little-endian; under zero it is the magnitude below zero

hidraw hands over one report a read; the driver also accepts them run together (as a pty passes them in the
simulator) and resynchronises on report ID 3, counting what it skips. Fault, calibration and re-zeroing all
read as `needs_zeroing`: each means the weight must not be sold until staff see to the scale. A gone device is
a failed read (ENODEV). The protocol has no zero command here (`zero()` raises ZeroNotSupported).

Options: `path` (the hidraw node; a udev rule can give it a stable name), `rate_hz`, `reply_timeout_ms`.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Self

from drivers.options import Options
from drivers.scale_poll import PolledScale, cannot_open, not_open, went_away
from drivers.scales import Reading, reading, scaled_mg

REPORT_ID, REPORT_LENGTH = 3, 6
FAULT, AT_ZERO, MOTION, STABLE, UNDER_ZERO, OVER_LIMIT, CALIBRATE, REZERO = range(1, 9)
UNITS = {1: "mg", 2: "g", 3: "kg", 11: "oz", 12: "lb"}


def decode(report: bytes, received_at: float) -> Reading:
    """One weight report as a Reading; ValueError if it is not one (pure, for tests and the property test)."""
    if len(report) != REPORT_LENGTH or report[0] != REPORT_ID:
        raise ValueError(f"not a HID scale weight report: {report.hex(' ')}")
    status, unit = report[1], report[2]
    if not FAULT <= status <= REZERO or unit not in UNITS:
        raise ValueError(f"HID scale report with unknown status {status} or unit {unit}")
    exponent = report[3] - 256 if report[3] > 127 else report[3]
    magnitude = scaled_mg(report[4] | report[5] << 8, -exponent, UNITS[unit])
    return reading(-magnitude if status == UNDER_ZERO else magnitude, received_at, motion=status == MOTION,
                   under_zero=status == UNDER_ZERO, over_capacity=status == OVER_LIMIT,
                   needs_zeroing=status in (FAULT, CALIBRATE, REZERO))


class HidScale(PolledScale):
    """One HID POS scale on hidraw; `_poll` gives the next report (or, if the scale reports only on change,
    the last one once `reply_timeout_ms` passes without news)."""

    name = "hid_scale"

    def __init__(self, options: Mapping[str, object]) -> None:
        o = Options(self.name, options)
        self.path = o.text("path")
        super().__init__(o)
        o.finish()
        self._fd: int | None = None
        self._buffer = b""
        self._latest: Reading | None = None
        self._fresh = asyncio.Event()
        self._failure: Exception | None = None

    async def __aenter__(self) -> Self:
        try:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        except OSError as exc:
            raise cannot_open(self.name, self.path, exc) from exc
        self._failure, self._latest, self._buffer = None, None, b""
        asyncio.get_running_loop().add_reader(self._fd, self._readable)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._close()

    async def _poll(self) -> Reading:
        self._fresh.clear()
        self._check()
        try:
            async with asyncio.timeout(self.reply_timeout_s):
                await self._fresh.wait()
        except TimeoutError:
            if self._latest is None:
                raise
        self._check()
        assert self._latest is not None
        return self._latest

    def _check(self) -> None:
        if self._fd is None:
            raise self._failure or not_open(self.name)

    def _readable(self) -> None:
        assert self._fd is not None
        try:
            data = os.read(self._fd, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            return self._gone(exc)
        if not data:
            return self._gone(None)
        self._buffer += data
        now = time.monotonic()
        while len(self._buffer) >= REPORT_LENGTH:
            if self._buffer[0] != REPORT_ID:
                at = self._buffer.find(bytes((REPORT_ID,)), 1)
                self._buffer = self._buffer[at:] if at > 0 else b""
                self.garbled()
                continue
            report, self._buffer = self._buffer[:REPORT_LENGTH], self._buffer[REPORT_LENGTH:]
            try:
                self._latest = decode(report, now)
            except ValueError:
                self.garbled()
                continue
            self._fresh.set()

    def _gone(self, exc: OSError | None) -> None:
        self._failure = went_away(self.name, self.path, exc)
        self._close()
        self._fresh.set()

    def _close(self) -> None:
        if self._fd is not None:
            asyncio.get_running_loop().remove_reader(self._fd)
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None
