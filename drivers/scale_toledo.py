"""Mettler Toledo 8217 protocol, as scanner-scales and POS scales speak it on RS-232 (9600 7E1 by default).

The host sends `W`; the scale answers one of two frames, both ended by CR:

    STX dd.ddd CR               a valid weight: ASCII digits with the decimal point (kg: 3 decimals, lb: 2);
                                five digits without a point are read with `decimals` places
    STX ? s CR                  no valid weight now: one status byte, bit 6 always set (so printable)
        bit 0  motion                    bit 4  at centre of zero
        bit 1  over capacity             bit 5  net weight (not gross)
        bit 2  under zero                bit 6  always 1
        bit 3  outside the zero capture range (read as needs zeroing)     bit 7  parity (0 as 7-bit data)

The status byte is laid out as the Mettler Toledo DIVA service manual (Magellan 8500 scanner-scales) gives it
for this protocol. A status frame carries no weight, so its Reading has `weight_mg` 0 and is never stable.
`Z` zeroes the scale (no reply; the scale ignores it in motion or outside the zero range).

Options: `port`, `baudrate` (9600), `parity` (even), `bytesize` (7), `unit` (kg or lb), `decimals` (for
five-digit frames: 3 for kg, 2 for lb), `rate_hz`, `reply_timeout_ms`, `silent_polls`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from drivers.options import Options
from drivers.scale_frames import cut
from drivers.scale_serial import SerialScale
from drivers.scales import Reading, reading, scaled_mg

STX, CR = b"\x02", b"\r"
MOTION, OVER_CAPACITY, UNDER_ZERO, OUTSIDE_ZERO_RANGE, AT_ZERO, NET = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
ALWAYS = 0x40
_WEIGHT = re.compile(rb"\x02(\d{1,6}(?:\.\d{1,4})?)\r")


def decode(frame: bytes, received_at: float, unit: str = "kg", decimals: int = 3) -> Reading:
    """One 8217 reply as a Reading; ValueError if it is not one (pure, for tests and the property test)."""
    if frame[:2] == b"\x02?":
        if len(frame) != 4 or frame[-1:] != CR or not frame[2] & ALWAYS or frame[2] & 0x80:
            raise ValueError(f"not an 8217 status frame: {frame!r}")
        status = frame[2]
        return reading(0, received_at, motion=bool(status & MOTION), under_zero=bool(status & UNDER_ZERO),
                       over_capacity=bool(status & OVER_CAPACITY), needs_zeroing=bool(status & OUTSIDE_ZERO_RANGE))
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
