"""The bytes each scale protocol puts on the wire for a reading: the simulators' own encoders, pure.

Written from the protocol descriptions (docs/drivers.md, "Scales"), not from the drivers' decoders, so a test
that a driver reads these bytes right checks two readings of the protocol against each other.

Each encoder takes a physics Sample and gives what that protocol can say of it. What a protocol cannot say is
lost as on a real scale: a Toledo status frame carries no weight, a CAS PD-II has no needs-zeroing state,
and the HID report in grams has no room for more than 65 535 g.
"""

from __future__ import annotations

from simulators.devices.scale_physics import Sample


def _grams(weight_mg: int) -> int:
    return round(weight_mg / 1000)


def _kg_text(grams: int) -> str:
    """`grams` (not negative) as kilograms with three decimals: 1234 -> "1.234"."""
    return f"{grams // 1000}.{grams % 1000:03d}"


def toledo8217(sample: Sample) -> bytes:
    """STX dd.ddd CR for a still, in-range weight; STX ? s CR otherwise: bit 0 motion, 1 over capacity,
    2 under zero, 3 outside the zero range, 4 centre of zero, 6 always set."""
    if sample.motion or sample.under_zero or sample.over_capacity or sample.needs_zeroing:
        status = 0x40 | (0x01 if sample.motion else 0) | (0x02 if sample.over_capacity else 0) \
            | (0x04 if sample.under_zero else 0) | (0x08 if sample.needs_zeroing else 0) \
            | (0x10 if sample.weight_mg == 0 else 0)
        return b"\x02?" + bytes((status,)) + b"\r"
    grams = _grams(sample.weight_mg)
    return b"\x02" + f"{grams // 1000:02d}.{grams % 1000:03d}".encode() + b"\r"


def scp01(sample: Sample) -> bytes:
    """LF s r n m f xxxxxx.xxx uuu CR, in kilograms: status O, U, E, Z or space; range 1; gross."""
    grams = _grams(sample.weight_mg)
    if sample.over_capacity:
        status = "O"
    elif sample.under_zero:
        status = "U"
    elif sample.needs_zeroing:
        status = "E"
    elif grams == 0:
        status = "Z"
    else:
        status = " "
    text = ("-" if grams < 0 else "") + _kg_text(abs(grams))
    motion = "M" if sample.motion else " "
    return f"\n{status}1G{motion} {text:>10}kg \r".encode("ascii")


def nci_status(sample: Sample) -> bytes:
    """The NCI status bytes: motion and at zero; under and over capacity; a third byte for a zero error."""
    s1 = 0x30 | (0x01 if sample.motion else 0) | (0x02 if _grams(sample.weight_mg) == 0 else 0)
    s2 = 0x30 | (0x01 if sample.under_zero else 0) | (0x02 if sample.over_capacity else 0) \
        | (0x40 if sample.needs_zeroing else 0)
    return bytes((s1, s2)) + (bytes((0x30 | 0x08,)) if sample.needs_zeroing else b"")


def nci(sample: Sample) -> bytes:
    """LF xxxx.xxxkg CR LF hh CR ETX: `^` over capacity, a '-' below zero, then the status bytes."""
    grams = _grams(sample.weight_mg)
    text = "^^^^^^^" if sample.over_capacity else ("-" if grams < 0 else "") + _kg_text(abs(grams))
    return f"\n{text:>7}kg\r\n".encode("ascii") + nci_status(sample) + b"\r\x03"


def cas_pd2(sample: Sample) -> bytes:
    """SOH STX s g wwwwww uu BCC ETX EOT, in kilograms: s is F over capacity, U in motion, S still."""
    grams = _grams(sample.weight_mg)
    if sample.over_capacity:
        body = b"F OL    kg"
    else:
        status = b"U" if sample.motion else b"S"
        sign = b"-" if grams < 0 else b" "
        body = status + sign + f"{abs(grams) // 1000:02d}.{abs(grams) % 1000:03d}".encode() + b"kg"
    check = 0
    for byte in body:
        check ^= byte
    return b"\x01\x02" + body + bytes((check,)) + b"\x03\x04"


def hid_report(sample: Sample) -> bytes:
    """Report ID 3: status, unit 2 (grams), exponent 0, the weight's magnitude LSB first."""
    grams = _grams(sample.weight_mg)
    if sample.over_capacity:
        status = 6
    elif sample.under_zero:
        status = 5
    elif sample.needs_zeroing:
        status = 8
    elif sample.motion:
        status = 3
    elif grams == 0:
        status = 2
    else:
        status = 4
    magnitude = min(abs(grams), 0xFFFF)
    return bytes((3, status, 2, 0, magnitude & 0xFF, magnitude >> 8))


ENCODERS = {"toledo": toledo8217, "scp01": scp01, "nci": nci, "cas": cas_pd2, "hid": hid_report}
