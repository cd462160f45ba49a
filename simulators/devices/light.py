"""Lane lights on real ptys, reading the bytes the drivers write: a relay board and a Delcom HID light.

    board = VirtualRelayBoard()                 # driver relay_serial, port = board.path
    hid = VirtualHidLight()                     # driver hid_light, path = hid.path (a pty stands in for hidraw)
    board.timeline                              # [Lamp(at, lit={"green"}), Lamp(at, lit={"yellow"}), ...]
    await board.until(lambda lamps: ..., timeout=5)
    board.unplug(); board.replug()

Each parses what arrives with its own reading of the protocol (not the driver's code, so a test of the bytes
means something): the relay board checks every frame's checksum and ignores a bad one, as the real board
does; the HID light keeps port 1's pins, flash mode, prescaler and duty cycles as the Delcom firmware does.
A thread reads the pty, so the timeline's times are when the bytes arrived, whatever the test's loop does.
"""

from __future__ import annotations

import asyncio
import os
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from simulators.devices.pty_device import VirtualPtyDevice

RELAY_COLOURS = {1: "green", 2: "yellow", 3: "red", 4: "buzzer"}
DELCOM_PINS = {0x01: "green", 0x02: "red", 0x04: "yellow"}


@dataclass(frozen=True, slots=True)
class Lamp:
    """What the light shows from `at` (time.monotonic()) on: the colours lit, and those the device flashes."""

    at: float
    lit: frozenset[str]
    flashing: frozenset[str] = field(default_factory=frozenset)


def settled(lamps: list[Lamp], hold_s: float = 0.1) -> list[Lamp]:
    """The timeline as a person sees it: states held shorter than `hold_s` dropped (a board switches its relays
    one frame after another, so green to yellow passes through a moment of dark), repeats merged."""
    held = [lamp for lamp, after in zip(lamps, lamps[1:], strict=False) if after.at - lamp.at >= hold_s] + lamps[-1:]
    merged: list[Lamp] = []
    for lamp in held:
        if not merged or (merged[-1].lit, merged[-1].flashing) != (lamp.lit, lamp.flashing):
            merged.append(lamp)
    return merged


class _ListeningDevice(VirtualPtyDevice):
    """A pty whose reader thread hands every chunk the driver wrote to `_feed`, and records lamp changes."""

    def __init__(self, name: str, link_dir: str | os.PathLike[str] | None,
                 on_change: Callable[[Lamp], None] | None) -> None:
        self.timeline: list[Lamp] = []
        self._on_change = on_change
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        super().__init__(name, link_dir)

    def replug(self) -> None:
        super().replug()
        if self._thread is None and self.master is not None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._read, args=(self.master,), daemon=True,
                                            name=f"sim-{self.path}")
            self._thread.start()

    def unplug(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=5)
            self._thread = None
        super().unplug()

    def lamps(self) -> list[Lamp]:
        with self._lock:
            return list(self.timeline)

    async def until(self, predicate: Callable[[list[Lamp]], bool], within_s: float = 5.0) -> list[Lamp]:
        """Wait (polling, without blocking the loop) until `predicate(timeline)` holds; the timeline then."""
        async with asyncio.timeout(within_s):
            while not predicate(lamps := self.lamps()):  # noqa: ASYNC110 - the reader thread has no loop to set an Event on
                await asyncio.sleep(0.01)
        return lamps

    def _read(self, master: int) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(master, 4096)
            except OSError:             # no driver has the port open now (EIO): wait for one
                self._stop.wait(0.02)
                continue
            self._feed(data, time.monotonic())

    def _feed(self, data: bytes, at: float) -> None:
        raise NotImplementedError

    def _record(self, at: float, lit: frozenset[str], flashing: frozenset[str] = frozenset()) -> None:
        with self._lock:
            last = self.timeline[-1] if self.timeline else Lamp(0.0, frozenset())
            if (last.lit, last.flashing) == (lit, flashing):
                return
            lamp = Lamp(at, lit, flashing)
            self.timeline.append(lamp)
        if self._on_change is not None:
            self._on_change(lamp)


class VirtualRelayBoard(_ListeningDevice):
    """An LCUS-type board: frames `A0 relay state checksum`; `state[i]` is relay i+1; `frames`, `bad_frames`."""

    def __init__(self, name: str = "relay", *, relays: int = 4, colours: dict[int, str] | None = None,
                 link_dir: str | os.PathLike[str] | None = None,
                 on_change: Callable[[Lamp], None] | None = None) -> None:
        self.relays = relays
        self.colours = dict(RELAY_COLOURS if colours is None else colours)
        self.state = [False] * relays
        self.frames: list[bytes] = []
        self.bad_frames: list[bytes] = []
        self._pending = b""
        super().__init__(name, link_dir, on_change)

    def _feed(self, data: bytes, at: float) -> None:
        self._pending += data
        while len(self._pending) >= 4:
            if self._pending[0] != 0xA0:                 # not a frame start: the board skips the byte
                self.bad_frames.append(self._pending[:1])
                self._pending = self._pending[1:]
                continue
            chunk, self._pending = self._pending[:4], self._pending[4:]
            head, relay, state, checksum = chunk
            if (head + relay + state) & 0xFF != checksum or state not in (0, 1) or not 1 <= relay <= self.relays:
                self.bad_frames.append(chunk)
                continue
            self.frames.append(chunk)
            self.state[relay - 1] = bool(state)
            self._record(at, frozenset(self.colours.get(i + 1, f"relay{i + 1}")
                                       for i, on in enumerate(self.state) if on))


class VirtualHidLight(_ListeningDevice):
    """A Delcom visual indicator: 8-byte write commands (report ID 101); port 1 active low, flash, duty cycle."""

    def __init__(self, name: str = "hidlight", *, link_dir: str | os.PathLike[str] | None = None,
                 on_change: Callable[[Lamp], None] | None = None) -> None:
        self.port1 = 0xFF               # every pin high: every LED dark
        self.flash = 0                  # pins in flash mode
        self.prescaler_ms = 10
        self.duty: dict[int, tuple[int, int]] = {}     # pin bit -> (ticks high/dark, ticks low/lit)
        self.reports: list[bytes] = []
        self.bad_reports: list[bytes] = []
        self._pending = b""
        super().__init__(name, link_dir, on_change)

    def period_s(self, colour: str) -> float | None:
        """The flash period the firmware would run for `colour` (None if no duty cycle was set)."""
        bit = next(b for b, c in DELCOM_PINS.items() if c == colour)
        if bit not in self.duty:
            return None
        high, low = self.duty[bit]
        return (high + low) * self.prescaler_ms / 1000

    def _feed(self, data: bytes, at: float) -> None:
        self._pending += data
        while len(self._pending) >= 8:
            chunk, self._pending = self._pending[:8], self._pending[8:]
            if chunk[0] != 101:
                self.bad_reports.append(chunk)
                continue
            self.reports.append(chunk)
            self._command(chunk[1], chunk[2], chunk[3])
            lit = frozenset(c for b, c in DELCOM_PINS.items() if not self.port1 & b)
            self._record(at, lit, frozenset(c for b, c in DELCOM_PINS.items() if self.flash & b and c in lit))

    def _command(self, minor: int, lsb: int, msb: int) -> None:
        if minor == 12:               # MSB pins set high (dark), then LSB pins reset low (lit)
            self.port1 = (self.port1 | msb) & ~lsb & 0xFF
        elif minor == 20:             # LSB pins stop flashing, MSB pins flash
            self.flash = (self.flash & ~lsb | msb) & 0xFF
        elif minor == 19:
            self.prescaler_ms = lsb
        elif 21 <= minor <= 28:
            self.duty[1 << (minor - 21)] = (lsb, msb)
        else:
            self.bad_reports.append(bytes((101, minor, lsb, msb)))
