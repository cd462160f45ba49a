"""Mettler Toledo 8217 protocol, as scanner-scales and POS scales speak it on RS-232 (9600 7E1 by default).

The host sends `W`; the scale answers one of two frames, both ended by CR:

    STX dd.ddd CR               a valid weight: ASCII digits with the decimal point (kg: 3 decimals, lb: 2);
                                five digits without a point are read with `decimals` places
    STX ? s1 s2 CR              no valid weight now: two status bytes, bits 4 and 5 always set (so printable)
        s1 bit 0  motion                 s2 bit 0  needs zeroing (no zero captured, or zero lost)
        s1 bit 1  at zero                s2 bit 1  over capacity
        s1 bit 2  RAM error              s2 bits 2, 3, 6 reserved (0)
        s1 bit 3  EEPROM error
        s1 bit 6  under zero

Byte 1 is laid out as the public 8217 descriptions give it; the second byte varies between models, and the
layout above is the one this driver implements: check it against the scale's manual. A status frame carries no
weight, so its Reading has `weight_mg` 0 and is never stable. `Z` zeroes the scale (no reply). A RAM or EEPROM
error is a broken scale: DeviceUnavailable, not a weight.

Options: `port`, `baudrate` (9600), `parity` (even), `bytesize` (7), `unit` (kg or lb), `decimals` (for
five-digit frames: 3 for kg, 2 for lb), `rate_hz`, `reply_timeout_ms`, `silent_polls`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from drivers.base import DeviceUnavailable, UnavailableReason
from drivers.options import Options
from drivers.scale_frames import cut
from drivers.scale_serial import SerialScale
from drivers.scales import Reading, reading, scaled_mg

STX, CR = b"\x02", b"\r"
MOTION, AT_ZERO, RAM_ERROR, EEPROM_ERROR, UNDER_ZERO = 0x01, 0x02, 0x04, 0x08, 0x40
NEEDS_ZEROING, OVER_CAPACITY = 0x01, 0x02
ALWAYS = 0x30
_WEIGHT = re.compile(rb"\x02(\d{1,6}(?:\.\d{1,4})?)\r")


def decode(frame: bytes, received_at: float, unit: str = "kg", decimals: int = 3) -> Reading:
    """One 8217 reply as a Reading; ValueError if it is not one (pure, for tests and the property test)."""
    if frame[:2] == b"\x02?":
        if len(frame) != 5 or frame[-1:] != CR or any(b & ALWAYS != ALWAYS or b & 0x80 for b in frame[2:4]):
            raise ValueError(f"not an 8217 status frame: {frame!r}")
        s1, s2 = frame[2], frame[3]
        if s1 & (RAM_ERROR | EEPROM_ERROR):
            raise DeviceUnavailable(UnavailableReason.FAILED, "the 8217 scale reports a "
                                    f"{'RAM' if s1 & RAM_ERROR else 'EEPROM'} error. Fix: have the scale serviced")
        return reading(0, received_at, motion=bool(s1 & MOTION), under_zero=bool(s1 & UNDER_ZERO),
                       over_capacity=bool(s2 & OVER_CAPACITY), needs_zeroing=bool(s2 & NEEDS_ZEROING))
    match = _WEIGHT.fullmatch(frame)
    if match is None:
        raise ValueError(f"not an 8217 weight frame: {frame!r}")
    digits = match.group(1)
    whole, point, fraction = digits.partition(b".")
    places = len(fraction) if point else decimals
    return reading(scaled_mg(int(whole + fraction), places, unit), received_at)


class ToledoScale(SerialScale):
    """A scale speaking the 8217 protocol; `zero()` sends `Z`."""

    name = "toledo8217"
    request = b"W"
    default_parity, default_bytesize = "even", 7

    def __init__(self, options: Mapping[str, object]) -> None:
        o = Options(self.name, options)
        self.unit = o.choice("unit", "kg", ("kg", "lb"))
        self.decimals = o.integer("decimals", 3 if self.unit == "kg" else 2, 0, 4)
        super().__init__(o)

    def split(self, buffer: bytes) -> tuple[list[bytes], bytes, int]:
        return cut(buffer, STX, CR, 12)

    def decode(self, frame: bytes, received_at: float) -> Reading:
        return decode(frame, received_at, self.unit, self.decimals)

    async def zero(self) -> None:
        async with self._asking:
            self._check()
            self._write(b"Z")
