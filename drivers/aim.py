"""AIM symbology identifiers (ISO/IEC 15424 `]Cm`) to symbology names, and a check-digit guess when none is sent.

Scanners configured to "transmit AIM ID" prefix every code with three bytes such as `]E0` (EAN-13) or
`]C1` (GS1-128). The identifier is the only reliable way to tell a GS1-128 from a plain Code 128, or a
GS1 DataMatrix from a plain one, so it is parsed and kept; GS (0x1D, the FNC1 separator) stays in the data.
"""

from __future__ import annotations

import re

GS = b"\x1d"
AIM_PATTERN = re.compile(rb"\][A-Za-z][0-9A-Za-z]")

# (code character, modifier) -> symbology; "*" means any modifier.
_TABLE: dict[tuple[str, str], str] = {
    ("E", "0"): "ean13", ("E", "3"): "ean13", ("E", "4"): "ean8",
    ("E", "1"): "ean13", ("E", "2"): "ean13",
    ("C", "0"): "code128", ("C", "1"): "gs1-128", ("C", "2"): "code128", ("C", "4"): "code128",
    ("e", "0"): "databar",
    ("Q", "0"): "qr", ("Q", "1"): "qr", ("Q", "2"): "qr", ("Q", "3"): "gs1-qr", ("Q", "4"): "qr",
    ("Q", "5"): "gs1-qr", ("Q", "6"): "qr",
    ("d", "0"): "datamatrix", ("d", "1"): "datamatrix", ("d", "2"): "gs1-datamatrix", ("d", "3"): "datamatrix",
    ("d", "4"): "datamatrix", ("d", "5"): "gs1-datamatrix", ("d", "6"): "datamatrix",
    ("I", "*"): "itf", ("A", "*"): "code39", ("G", "*"): "code93", ("F", "*"): "codabar",
    ("L", "*"): "pdf417", ("z", "*"): "aztec",
}


def split_aim(payload: bytes) -> tuple[str | None, bytes]:
    """Split a leading AIM identifier off the payload; (None, payload) when there is none."""
    if len(payload) >= 3 and AIM_PATTERN.match(payload):
        return payload[:3].decode("ascii"), payload[3:]
    return None, payload


def symbology_for(aim: str | None, data: bytes) -> str:
    """Name the symbology from the AIM identifier, refined by the data; guess from the data without one."""
    if aim is None:
        return guess_symbology(data)
    code, modifier = aim[1], aim[2]
    name = _TABLE.get((code, modifier)) or _TABLE.get((code, "*"), "unknown")
    if name == "ean13" and data.isdigit():
        # ]E0 carries EAN-13, and UPC-A / UPC-E as some scanners send them (12 / 8 digits).
        return {12: "upca", 8: "upce"}.get(len(data), "ean13")
    if name == "databar" and not (len(data) == 16 and data.startswith(b"01")):
        return "databar-expanded"   # ]e0 covers the whole family; only Omni/Limited are a bare (01)GTIN
    return name


def guess_symbology(data: bytes) -> str:
    """Without an AIM identifier: a GTIN-shaped number with a valid check digit, else unknown."""
    if data.isdigit() and gtin_check_ok(data):
        return {13: "ean13", 12: "upca", 8: "ean8"}.get(len(data), "unknown")
    return "unknown"


def gtin_check_ok(digits: bytes | str) -> bool:
    """GS1 mod-10 check digit of a GTIN-8/12/13/14 (the last digit)."""
    text = digits.decode("ascii", "replace") if isinstance(digits, bytes) else digits
    if len(text) not in (8, 12, 13, 14) or not text.isdigit() or not text.isascii():
        return False
    body = [int(c) for c in text[:-1]]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == int(text[-1])
