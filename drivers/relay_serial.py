"""A tower light on a USB-serial relay board (the common LCUS boards, CH340 at 9600 8N1), one relay a colour.

Each relay is switched by a 4-byte frame `A0 <relay 1..n> <00 off | 01 on> <checksum>`, the checksum being
the sum of the first three bytes & 0xFF (`A0 01 01 A2` closes relay 1). The board answers nothing, so the
driver learns it is gone only when a write fails. It has no flash mode: the driver toggles the yellow relay
at 1 Hz in a task of its own, which stops when the signal changes or the light closes.

Options: `port` (a stable /dev/serial/by-id path, resolved again on every open), `baudrate` (9600),
`relays` (how many the board has, 4), `green`/`yellow`/`red` (the relay of each colour: 1, 2, 3), `buzzer`
(the relay of a buzzer, 0 for none) sounding `buzzer_ms` (300) when the signal turns to flashing yellow or red.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

from drivers.base import DeviceUnavailable, DriverOptionError, UnavailableReason
from drivers.lights import FLASH_PERIOD_S, Signal, cannot_open, went_away
from drivers.options import Options

COLOURS = ("green", "yellow", "red")
LIT = {Signal.GREEN: "green", Signal.YELLOW_FLASHING: "yellow", Signal.RED: "red", Signal.OFF: None}
BUZZ_ON = (Signal.YELLOW_FLASHING, Signal.RED)


def frame(relay: int, on: bool) -> bytes:
    """The board's frame switching one relay: A0, relay, state, checksum (sum of the three & 0xFF)."""
    body = bytes((0xA0, relay, 1 if on else 0))
    return body + bytes((sum(body) & 0xFF,))


class RelaySerialLight:
    """One relay board; `async with` opens the port and shows the signal last asked for."""

    name = "relay_serial"

    def __init__(self, options: Mapping[str, object]) -> None:
        o = Options("relay_serial", options)
        self.port = o.text("port")
        self.baudrate = o.integer("baudrate", 9600, 1200, 115_200)
        relays = o.integer("relays", 4, 1, 16)
        self.colours = {c: o.integer(c, n, 1, relays) for c, n in zip(COLOURS, (1, 2, 3), strict=True)}
        self.buzzer = o.integer("buzzer", 0, 0, relays)
        self.buzz_s = o.integer("buzzer_ms", 300, 10, 10_000) / 1000
        o.finish()
        taken: dict[int, str] = {}
        for key, relay in [*self.colours.items(), ("buzzer", self.buzzer)]:
            if relay and relay in taken:
                raise DriverOptionError(key, f"relay {relay} is already {taken[relay]}. "
                                             "Fix: give each colour and the buzzer a relay of its own")
            taken[relay] = key
        self._want = Signal.OFF
        self._serial: Any = None
        self._failure: DeviceUnavailable | None = None
        self._flasher: asyncio.Task[None] | None = None
        self._buzz: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        import serial  # lazy: only lanes with a relay board load pyserial's port code

        resolved = os.path.realpath(self.port)  # noqa: ASYNC240 - a by-id link may point elsewhere since last time
        try:
            # to_thread: opening a wedged USB-serial adapter can block for seconds.
            self._serial = await asyncio.to_thread(serial.Serial, resolved, self.baudrate, bytesize=8, parity="N",
                                                   stopbits=1, timeout=0, exclusive=True)
        except (serial.SerialException, OSError) as exc:
            raise cannot_open(self.name, self.port, exc) from exc
        self._failure = None
        self._apply(self._want)      # after a reopen the board shows what the lane asked for meanwhile
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        tasks = [t for t in (self._flasher, self._buzz) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._serial is not None:
            # Dark rather than a green that claims a lane the agent no longer runs.
            with contextlib.suppress(DeviceUnavailable):
                for relay in [*self.colours.values(), self.buzzer]:
                    if relay:
                        self._write(frame(relay, False))
            self._close()

    async def show(self, signal: Signal) -> None:
        """Show `signal` now; DeviceUnavailable if the board is gone (it is shown again on the next open)."""
        signal = Signal(signal)            # a plain "green" from config or a test is the same signal
        changed = signal is not self._want
        self._want = signal
        if self._serial is None:
            raise self._failure or DeviceUnavailable(UnavailableReason.FAILED, "the relay board is not open "
                                                     "(the agent opens it again by itself)")
        if changed:
            self._apply(signal)
            if signal in BUZZ_ON and self.buzzer and (self._buzz is None or self._buzz.done()):
                self._buzz = asyncio.create_task(self._sound(), name="relay-light-buzzer")

    def _apply(self, signal: Signal) -> None:
        """Every colour relay set explicitly, the dark ones first so two colours are never lit together."""
        if self._flasher is not None:
            self._flasher.cancel()        # cancelled at its sleep: it writes nothing more
            self._flasher = None
        lit = LIT[signal]
        for colour, relay in sorted(self.colours.items(), key=lambda item: item[0] == lit):
            self._write(frame(relay, colour == lit))
        if signal is Signal.YELLOW_FLASHING:
            self._flasher = asyncio.create_task(self._flash(self.colours["yellow"]), name="relay-light-flash")

    async def _flash(self, relay: int) -> None:
        on = True
        with contextlib.suppress(DeviceUnavailable):    # kept in _failure; the next show raises it
            while True:
                await asyncio.sleep(FLASH_PERIOD_S / 2)
                on = not on
                self._write(frame(relay, on))

    async def _sound(self) -> None:
        with contextlib.suppress(DeviceUnavailable):
            self._write(frame(self.buzzer, True))
            try:
                await asyncio.sleep(self.buzz_s)
            finally:
                if self._serial is not None:
                    self._write(frame(self.buzzer, False))

    def _write(self, data: bytes) -> None:
        if self._serial is None:
            raise self._failure or DeviceUnavailable(UnavailableReason.FAILED, "the relay board is closed")
        try:
            os.write(self._serial.fileno(), data)   # 4 bytes into the tty's buffer: never waits for the wire
        except OSError as exc:
            self._failure = went_away(self.name, self.port, exc)
            self._close()
            raise self._failure from exc

    def _close(self) -> None:
        with contextlib.suppress(OSError):
            self._serial.close()     # closing an unplugged port may fail; it is gone either way
        self._serial = None
