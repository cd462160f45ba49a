"""Raw Linux `struct input_event` bytes to and from events: the one decoder shared by the driver and simulator.

The HID driver reads the event device's fd itself (no python-evdev read loop), so a simulator that writes
the same bytes exercises the same code. Layout on 64-bit Linux: struct timeval (two longs), u16 type,
u16 code, s32 value; 24 bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import NamedTuple

EVENT = struct.Struct("@llHHi")
EV_SYN, EV_KEY, EV_MSC, EV_LED = 0x00, 0x01, 0x04, 0x11
SYN_REPORT, SYN_DROPPED = 0, 3
KEY_RELEASE, KEY_PRESS, KEY_REPEAT = 0, 1, 2


class InputEvent(NamedTuple):
    sec: int
    usec: int
    type: int
    code: int
    value: int

    @property
    def time(self) -> float:
        return self.sec + self.usec / 1_000_000


def encode(event: InputEvent) -> bytes:
    return EVENT.pack(*event)


def key_event(time_s: float, code: int, value: int) -> InputEvent:
    sec = int(time_s)
    return InputEvent(sec, int(round((time_s - sec) * 1_000_000)), EV_KEY, code, value)


def syn_event(time_s: float, code: int = SYN_REPORT) -> InputEvent:
    sec = int(time_s)
    return InputEvent(sec, int(round((time_s - sec) * 1_000_000)), EV_SYN, code, 0)


@dataclass(slots=True)
class EventDecoder:
    """Feed any chunking of the byte stream; complete events come out, at most one partial event is kept."""

    _rest: bytes = field(default=b"")

    def feed(self, data: bytes) -> list[InputEvent]:
        buf = self._rest + data
        whole = len(buf) - len(buf) % EVENT.size
        self._rest = buf[whole:]
        return [InputEvent(*fields) for fields in EVENT.iter_unpack(buf[:whole])]
