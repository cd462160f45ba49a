"""NCI / Avery Weigh-Tronix SCP-01 protocol, 9600 8N1 by default, in either of two reply layouts (`format`).

`format = "sma"` (the default) is the Scale Manufacturers Association layout. The host sends `LF W CR`
(weight) or `LF Z CR` (zero); the scale answers one frame:

    LF s r n m f xxxxxx.xxx uuu CR
       s  status: space ok, Z at centre of zero, O over capacity, U under capacity (under zero),
          E zero error, I initial zero error (both: needs zeroing), T tare error
       r  range: 1 to 8, or space
       n  gross/net: G gross, T tare, N net, or space
       m  motion: M in motion, space still
       f  future use: space
       xxxxxx.xxx  ten characters: the weight right-aligned, a leading '-' when negative, spaces before it
       uuu  the unit: "kg ", "lb ", "g  ", "oz "

A weight below zero (a '-' sign) is under zero too. The weight is exact: its decimals are on the wire.

`format = "nci"` is the layout NCI's own SCP-01 document gives its scales (`W CR`, a weight line and two or
three status bytes, ETX): drivers/scale_nci.py.

Options: `port`, `format` (sma, nci), `baudrate` (9600), `parity` (none), `bytesize` (8), `rate_hz`,
`reply_timeout_ms`, `silent_polls`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from drivers import scale_nci
from drivers.options import Options
from drivers.scale_frames import cut
from drivers.scale_serial import SerialScale
from drivers.scales import Reading, reading, scaled_mg

REQUEST, ZERO = b"\nW\r", b"\nZ\r"
UNITS = {b"kg ": "kg", b"lb ": "lb", b"g  ": "g", b"oz ": "oz"}
_FRAME = re.compile(rb"\n([ ZOUEIT])([1-8 ])([GTN ])([M ]) ([-. 0-9]{10})(.{3})\r", re.DOTALL)
_WEIGHT = re.compile(rb" *(-?)(\d*)(?:\.(\d*))?")


def decode(frame: bytes, received_at: float) -> Reading:
    """One SCP-01 reply as a Reading; ValueError if it is not one (pure, for tests and the property test)."""
    match = _FRAME.fullmatch(frame)
    if match is None:
        raise ValueError(f"not an SCP-01 frame: {frame!r}")
    status, _, _, motion, field, unit = match.groups()
    number = _WEIGHT.fullmatch(field)
    if number is None or not (number.group(2) or number.group(3)) or unit not in UNITS:
        raise ValueError(f"not an SCP-01 weight: {field!r} {unit!r}")
    sign, whole, fraction = number.group(1), number.group(2), number.group(3) or b""
    weight = scaled_mg(int((whole + fraction) or b"0"), len(fraction), UNITS[unit]) * (-1 if sign else 1)
    return reading(weight, received_at, motion=motion == b"M", under_zero=status == b"U" or weight < 0,
                   over_capacity=status == b"O", needs_zeroing=status in (b"E", b"I"))


class Scp01Scale(SerialScale):
    """A scale speaking SCP-01 in the SMA or the NCI layout; `zero()` sends Z and waits for its answer."""

    name = "scp01"

    def __init__(self, options: Mapping[str, object]) -> None:
        o = Options(self.name, options)
        self.nci = o.choice("format", "sma", ("sma", "nci")) == "nci"
        self.request, self._zero = (scale_nci.REQUEST, scale_nci.ZERO) if self.nci else (REQUEST, ZERO)
        super().__init__(o)

    def split(self, buffer: bytes) -> tuple[list[bytes], bytes, int]:
        return cut(buffer, b"\n", scale_nci.END, 40) if self.nci else cut(buffer, b"\n", b"\r", 24)

    def decode(self, frame: bytes, received_at: float) -> Reading:
        return scale_nci.decode(frame, received_at) if self.nci else decode(frame, received_at)

    async def zero(self) -> None:
        await self.ask(self._zero)
