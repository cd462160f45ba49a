"""CAS PD-II protocol (the ECR "type 5" exchange), 9600 baud, 7 data bits, even parity, 1 stop bit.

The host asks in two steps, and the scale answers each:

    host ENQ (05)          scale ACK (06)                     "are you there?"
    host DC1 (11)          scale SOH STX s g wwwwww uu BCC ETX EOT
        s       S stable, U unstable (in motion), F over capacity
        g       sign: space, or '-' below zero
        wwwwww  six characters: the weight with its decimal point ("01.234"); letters when it cannot weigh
        uu      unit: "kg", " g", "lb"
        BCC     XOR of the bytes from s to the unit

A frame whose BCC does not match is garbled: skipped and counted. The PD-II reports no zeroing state and
has no zero command: it is zeroed with its own key (`zero()` raises ZeroNotSupported). Over capacity is read
from `F` as this driver's layout; some firmware shows an overload only on the display: check the manual.

Options: `port`, `baudrate` (9600), `parity` (even), `bytesize` (7), `rate_hz`, `reply_timeout_ms`,
`silent_polls`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import reduce

from drivers.options import Options
from drivers.scale_serial import SerialScale
from drivers.scales import Reading, reading, scaled_mg

ENQ, ACK, DC1, SOH, STX, ETX, EOT = b"\x05", b"\x06", b"\x11", b"\x01", b"\x02", b"\x03", b"\x04"
UNITS = {b"kg": "kg", b" g": "g", b"lb": "lb"}
_FRAME = re.compile(rb"\x01\x02([SUF])([ -])([ .0-9A-Z]{6})(kg| g|lb)(.)\x03\x04", re.DOTALL)
_WEIGHT = re.compile(rb" *(\d*)(?:\.(\d*))?")


def bcc(data: bytes) -> int:
    """The block check: XOR of every byte."""
    return reduce(lambda a, b: a ^ b, data, 0)


def decode(frame: bytes, received_at: float) -> Reading:
    """One PD-II weight frame as a Reading; ValueError if it is not one (pure, for tests and the property test)."""
    match = _FRAME.fullmatch(frame)
    if match is None or bcc(frame[2:-3]) != frame[-3]:
        raise ValueError(f"not a PD-II weight frame (or a bad BCC): {frame!r}")
    status, sign, field, unit, _ = match.groups()
    if status == b"F" or re.search(rb"[A-Z]", field):
        return reading(0, received_at, over_capacity=True)
    number = _WEIGHT.fullmatch(field)
    if number is None or not (number.group(1) or number.group(2)):
        raise ValueError(f"not a PD-II weight: {field!r}")
    whole, fraction = number.group(1), number.group(2) or b""
    weight = scaled_mg(int((whole + fraction) or b"0"), len(fraction), UNITS[unit]) * (-1 if sign == b"-" else 1)
    return reading(weight, received_at, motion=status == b"U", under_zero=weight < 0)


def split(buffer: bytes) -> tuple[list[bytes], bytes, int]:
    """ACKs and SOH ... EOT frames out of `buffer`: (frames, the unfinished rest, bytes skipped as noise)."""
    frames: list[bytes] = []
    skipped = 0
    while buffer:
        if buffer[:1] == ACK:
            frames.append(ACK)
            buffer = buffer[1:]
        elif buffer[:1] == SOH:
            end = buffer.find(EOT)
            if end < 0:
                if len(buffer) <= 20:
                    return frames, buffer, skipped
                buffer, skipped = buffer[1:], skipped + 1
                continue
            frames.append(buffer[:end + 1])
            buffer = buffer[end + 1:]
        else:
            buffer, skipped = buffer[1:], skipped + 1
    return frames, b"", skipped


class CasScale(SerialScale):
    """A CAS PD-II: ENQ answered by ACK, then DC1 answered by the weight frame."""

    name = "cas_pd2"
    default_parity, default_bytesize = "even", 7

    def __init__(self, options: Mapping[str, object]) -> None:
        super().__init__(Options(self.name, options))

    def split(self, buffer: bytes) -> tuple[list[bytes], bytes, int]:
        return split(buffer)

    def decode(self, frame: bytes, received_at: float) -> Reading:
        return decode(frame, received_at)

    async def _poll(self) -> Reading:
        await self.ask(ENQ, accept=lambda frame: frame == ACK)
        frame, at = await self.ask(DC1)
        return decode(frame, at)
