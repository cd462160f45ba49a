"""A USB HID status light over hidraw: the Delcom USB HID visual signal indicators (904xxx, 907xxx towers).

Delcom's lights take 8-byte write commands, `[major 101, minor, data LSB, data MSB, 4 bytes of data]`, the
major command doubling as the report ID; written to /dev/hidrawN (as hidapi's `hid_write` does) each is one
output report. The LEDs hang on port 1, active low: green P1.0, red P1.1, yellow (blue on RGB models) P1.2.

    minor 12  port 1 pins: LSB = pins driven low (lit), MSB = pins driven high (dark)
    minor 20  flash mode: LSB = pins whose flashing stops, MSB = pins that flash
    minor 19  clock generator prescaler: LSB = the tick in ms (the driver sets 10)
    minor 23  duty cycle of P1.2: LSB = time high (dark), MSB = time low (lit), in ticks

The light flashes by itself: the driver sets P1.2's duty cycle to 50 ticks dark, 50 lit (1 Hz) once, then
only switches pins and flash mode. The device answers nothing to writes, so a gone light shows as a failed
write (ENODEV or EIO). Option: `path` (the hidraw node; a udev rule can give it a stable name).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping
from types import TracebackType
from typing import Self

from drivers.base import DeviceUnavailable, UnavailableReason
from drivers.lights import FLASH_PERIOD_S, Signal, cannot_open, went_away
from drivers.options import Options

MAJOR_WRITE_8 = 101
PORT1_PINS, FLASH_MODE, PRESCALER, DUTY_P1_2 = 12, 20, 19, 23
GREEN, RED, YELLOW = 0x01, 0x02, 0x04
ALL = GREEN | RED | YELLOW
TICK_MS = 10
PINS = {Signal.GREEN: GREEN, Signal.YELLOW_FLASHING: YELLOW, Signal.RED: RED, Signal.OFF: 0}


def report(minor: int, lsb: int = 0, msb: int = 0) -> bytes:
    """One 8-byte write command (the report ID, 101, first)."""
    return bytes((MAJOR_WRITE_8, minor, lsb & 0xFF, msb & 0xFF, 0, 0, 0, 0))


def reports(signal: Signal) -> list[bytes]:
    """The commands that make the light show `signal`, whatever it showed before (pure, for tests)."""
    pins = PINS[signal]
    flashing = YELLOW if signal is Signal.YELLOW_FLASHING else 0
    half = round(FLASH_PERIOD_S / 2 * 1000 / TICK_MS)
    # Flashing starts before the pin is lit and stops after the new pins are set, so no steady yellow shows between.
    start = [report(PRESCALER, TICK_MS), report(DUTY_P1_2, half, half), report(FLASH_MODE, 0, flashing)] \
        if flashing else []
    return [*start, report(PORT1_PINS, pins, ALL & ~pins), report(FLASH_MODE, ALL & ~flashing, 0)]


class HidLight:
    """One Delcom light on /dev/hidrawN; `async with` opens it and shows the signal last asked for."""

    name = "hid_light"

    def __init__(self, options: Mapping[str, object]) -> None:
        o = Options("hid_light", options)
        self.path = o.text("path")
        o.finish()
        self._want = Signal.OFF
        self._fd: int | None = None
        self._failure: DeviceUnavailable | None = None
        self._writing = asyncio.Lock()       # one signal's commands at a time, never interleaved

    async def __aenter__(self) -> Self:
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
        except OSError as exc:
            raise cannot_open(self.name, self.path, exc) from exc
        self._failure = None
        await self._send(reports(self._want))     # after a reopen the light shows what the lane asked for meanwhile
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._fd is not None:
            # Dark rather than a green that claims a lane the agent no longer runs.
            with contextlib.suppress(DeviceUnavailable):
                await self._send(reports(Signal.OFF))
            self._close()

    async def show(self, signal: Signal) -> None:
        """Show `signal` now; DeviceUnavailable if the light is gone (it is shown again on the next open)."""
        signal = Signal(signal)            # a plain "green" from config or a test is the same signal
        changed = signal is not self._want
        self._want = signal
        if self._fd is None:
            raise self._failure or DeviceUnavailable(UnavailableReason.FAILED, "the HID light is not open "
                                                     "(the agent opens it again by itself)")
        if changed:
            await self._send(reports(signal))

    async def _send(self, commands: list[bytes]) -> None:
        async with self._writing:
            for command in commands:
                fd = self._fd
                if fd is None:
                    raise self._failure or DeviceUnavailable(UnavailableReason.FAILED, "the HID light is closed")
                try:
                    # A thread: a hidraw write waits for the USB transfer, up to seconds on a wedged device.
                    await asyncio.to_thread(os.write, fd, command)
                except OSError as exc:
                    self._failure = went_away(self.name, self.path, exc)
                    self._close()
                    raise self._failure from exc

    def _close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
