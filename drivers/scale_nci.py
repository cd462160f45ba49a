"""The NCI layout of an SCP-01 reply (NCI's own bench scales, and indicators set to "NCI"): pure decoding.

The host sends `W CR` (`Z CR` zeroes, `S CR` asks the status only); the scale answers with a weight line and a
status line, ended by ETX:

    LF xxxx.xxuu CR LF hh CR ETX        the weight with its unit (lb, kg, oz, g), then the status bytes
    LF hh CR ETX                        the status only (the answer to Z and S)

The weight field is `^` characters over capacity, `_` under capacity, `-` on a zero error. Status bytes have
bits 4 and 5 always set; bit 6 says another byte follows:

    byte 1  bit 0 motion, bit 1 at zero, bit 2 RAM error, bit 3 EEPROM error
    byte 2  bit 0 under capacity, bit 1 over capacity, bit 2 ROM error, bit 3 faulty calibration
    byte 3  bits 0-1 range, bit 2 net weight, bit 3 initial zero error

A RAM, ROM or EEPROM error is a broken scale (DeviceUnavailable); faulty calibration and the initial zero
error read as needs zeroing: neither weight may be sold until staff see to the scale.
"""

from __future__ import annotations

import re

from drivers.base import DeviceUnavailable, UnavailableReason
from drivers.scales import Reading, reading, scaled_mg

REQUEST, ZERO, END = b"W\r", b"Z\r", b"\r\x03"
UNITS = {b"lb": "lb", b"kg": "kg", b"oz": "oz", b"g": "g"}
_WEIGHT = re.compile(rb" *(-?) *(\d*)(?:\.(\d*))? *(lb|kg|oz|g) *")
_SPECIAL = re.compile(rb"(\^+|_+|-+) *(lb|kg|oz|g)? *")


def status_bytes(hh: bytes) -> tuple[int, int, int]:
    """The two or three status bytes (a missing third is 0x30); ValueError if they are not status bytes."""
    if not 2 <= len(hh) <= 3 or any(b & 0x30 != 0x30 or b & 0x80 for b in hh) or hh[0] & 0x40 \
            or bool(hh[1] & 0x40) != (len(hh) == 3):
        raise ValueError(f"not NCI status bytes: {hh!r}")
    return hh[0], hh[1], hh[2] if len(hh) == 3 else 0x30


def decode(frame: bytes, received_at: float) -> Reading:
    """One NCI reply as a Reading; ValueError if it is not one (pure, for tests and the property test)."""
    if frame[:1] != b"\n" or frame[-2:] != END:
        raise ValueError(f"not an NCI frame: {frame!r}")
    lines = frame[1:-2].split(b"\r\n")
    if len(lines) not in (1, 2):
        raise ValueError(f"not an NCI frame: {frame!r}")
    s1, s2, s3 = status_bytes(lines[-1])
    if s1 & 0x0C or s2 & 0x04:
        raise DeviceUnavailable(UnavailableReason.FAILED, "the NCI scale reports a memory (RAM, ROM or EEPROM) "
                                "error. Fix: have the scale serviced")
    weight, over, under, zero_error = 0, bool(s2 & 0x02), bool(s2 & 0x01), False
    if len(lines) == 2:
        special = _SPECIAL.fullmatch(lines[0])
        number = _WEIGHT.fullmatch(lines[0])
        if special is not None:
            kind = special.group(1)[:1]
            over, under, zero_error = over or kind == b"^", under or kind == b"_", zero_error or kind == b"-"
        elif number is not None and (number.group(2) or number.group(3)):
            fraction = number.group(3) or b""
            weight = scaled_mg(int(number.group(2) + fraction or b"0"), len(fraction), UNITS[number.group(4)])
            weight = -weight if number.group(1) else weight
        else:
            raise ValueError(f"not an NCI weight: {lines[0]!r}")
    return reading(weight, received_at, motion=bool(s1 & 0x01), under_zero=under or weight < 0,
                   over_capacity=over, needs_zeroing=zero_error or bool(s2 & 0x08) or bool(s3 & 0x08))
