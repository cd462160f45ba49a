"""Barcode decoding of one grayscale frame: pyzbar, zxing-cpp, and a cascade of both with cheap preprocessing.

Decoders are always given a grayscale image (pyzbar given a colour image silently reads one channel) and
restricted to the configured symbologies (2-4x faster, fewer misreads). On hard images each decoder
misses codes the other reads, so the default `auto` strategy is a cascade: zxing-cpp first (fast), and when
it finds nothing, further passes (zbar, a locally binarised image, an upscaled image) in turn across
successive frames (within a time budget), so an empty scene costs a bounded amount and a code held in view
meets every pass within a few frames. Imports of cv2/pyzbar/zxingcpp happen on first use, never at module import.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Image = Any   # a 2-D uint8 numpy array; typed loosely so this module imports without numpy

SYMBOLOGIES = ("ean13", "ean8", "upca", "upce", "code128", "gs1-128", "databar", "databar-expanded", "qr",
               "gs1-qr", "datamatrix", "gs1-datamatrix", "itf", "code39")
DEFAULT_SYMBOLOGIES = ("ean13", "ean8", "upca", "upce", "code128", "databar", "databar-expanded", "qr")
DECODERS = ("auto", "zbar", "zxing", "cascade-full")

_ZBAR = {"ean13": "EAN13", "ean8": "EAN8", "upca": "UPCA", "upce": "UPCE", "code128": "CODE128",
         "gs1-128": "CODE128", "databar": "DATABAR", "databar-expanded": "DATABAR_EXP", "qr": "QRCODE",
         "gs1-qr": "QRCODE", "itf": "I25", "code39": "CODE39"}
_ZBAR_NAMES = {"EAN13": "ean13", "EAN8": "ean8", "UPCA": "upca", "UPCE": "upce", "CODE128": "code128",
               "DATABAR": "databar", "DATABAR_EXP": "databar-expanded", "QRCODE": "qr", "I25": "itf",
               "CODE39": "code39"}
_ZXING = {"ean13": "EAN13", "ean8": "EAN8", "upca": "UPCA", "upce": "UPCE", "code128": "Code128",
          "gs1-128": "Code128", "databar": "DataBar", "databar-expanded": "DataBarExp", "qr": "QRCode",
          "gs1-qr": "QRCode", "datamatrix": "DataMatrix", "gs1-datamatrix": "DataMatrix", "itf": "ITF",
          "code39": "Code39"}
_ZXING_GS1 = {"code128": "gs1-128", "qr": "gs1-qr", "datamatrix": "gs1-datamatrix"}


@dataclass(frozen=True, slots=True)
class Decoded:
    symbology: str
    data: bytes
    aim: str | None = None
    decoder: str = ""


Decoder = Callable[[Image], list[Decoded]]


def zbar_decoder(symbologies: Sequence[str]) -> Decoder:
    """pyzbar restricted to `symbologies`; zbar reads UPC-A as 12 digits when upca is enabled."""
    from pyzbar import pyzbar

    wanted = sorted({_ZBAR[s] for s in symbologies if s in _ZBAR})
    symbols = [getattr(pyzbar.ZBarSymbol, name) for name in wanted]

    def decode(gray: Image) -> list[Decoded]:
        if not symbols:
            return []
        return [Decoded(_ZBAR_NAMES.get(r.type, "unknown"), r.data, None, "zbar")
                for r in pyzbar.decode(gray, symbols=symbols)]

    return decode


def zxing_decoder(symbologies: Sequence[str], *, binarizer: str = "LocalAverage") -> Decoder:
    """zxing-cpp restricted to `symbologies`; GS1 content is named gs1-128 / gs1-qr / gs1-datamatrix."""
    import zxingcpp

    names = sorted({_ZXING[s] for s in symbologies if s in _ZXING})
    formats = zxingcpp.barcode_formats_from_str(",".join(names)) if names else None
    mode, binar = zxingcpp.TextMode.Plain, getattr(zxingcpp.Binarizer, binarizer)

    def decode(gray: Image) -> list[Decoded]:
        if formats is None:
            return []
        found = zxingcpp.read_barcodes(gray, formats=formats, text_mode=mode, binarizer=binar, try_invert=False)
        return [_from_zxing(r) for r in found]

    return decode


def _from_zxing(result: Any) -> Decoded:
    fmt = result.format.name
    name = {"EAN13": "ean13", "EAN8": "ean8", "UPCA": "upca", "UPCE": "upce", "Code128": "code128",
            "QRCode": "qr", "DataMatrix": "datamatrix", "ITF": "itf", "Code39": "code39",
            "DataBarExp": "databar-expanded", "DataBarExpanded": "databar-expanded"}.get(fmt, "")
    if not name:
        name = "databar" if fmt.startswith("DataBar") else "unknown"
    aim = result.symbology_identifier or None
    if name in _ZXING_GS1 and aim in ("]C1", "]Q3", "]Q5", "]d2", "]d5"):
        name = _ZXING_GS1[name]
    return Decoded(name, bytes(result.bytes), aim, "zxing")


def _upscale(gray: Image) -> Image:
    import cv2

    return cv2.resize(gray, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)


def _binarise(gray: Image) -> Image:
    import cv2

    return cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 31, 5)


def _rotate(gray: Image, degrees: float) -> Image:
    """Linear codes at 20-40 degrees defeat line scanners; turning the frame brings them near level."""
    import cv2

    h, w = gray.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(gray, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _sharpen(gray: Image) -> Image:
    import cv2

    blurred = cv2.GaussianBlur(gray, (0, 0), 2.0)
    return cv2.addWeighted(gray, 2.0, blurred, -1.0, 0)


def normalise(found: list[Decoded], symbologies: Sequence[str]) -> list[Decoded]:
    """UPC-A read as a 13-digit EAN-13 with a leading 0 becomes the 12-digit UPC-A, so decoders agree."""
    if "upca" not in symbologies:
        return found
    return [Decoded("upca", d.data[1:], d.aim, d.decoder)
            if d.symbology == "ean13" and len(d.data) == 13 and d.data.startswith(b"0") else d for d in found]


class Cascade:
    """A fast first pass on every frame; when it finds nothing, the next slower pass in turn, within budget.

    Rotating the slow passes across frames keeps the cost of an empty scene within the budget, while a code
    held in view meets every pass within `len(passes)` frames. `full=True` runs every pass on every frame
    (the upper bound on what the passes can read; for the bench and for still images).
    """

    def __init__(self, symbologies: Sequence[str], budget_s: float = 0.020, full: bool = False) -> None:
        zxing, zbar = zxing_decoder(symbologies), zbar_decoder(symbologies)
        small_2d = [s for s in symbologies if s in ("qr", "gs1-qr", "datamatrix", "gs1-datamatrix")]
        self.first: Decoder = zxing
        self.passes: list[Decoder] = [
            zbar,
            lambda g: zxing(_sharpen(g)),
            lambda g: zbar(_binarise(g)),
            lambda g: zxing(_upscale(g)) if small_2d or g.shape[0] <= 800 else [],
            lambda g: zxing(_rotate(g, 30)),
            lambda g: zxing(_rotate(g, -30)),
        ]
        self.budget_s = budget_s
        self.full = full
        self._next = 0

    def __call__(self, gray: Image) -> list[Decoded]:
        start = time.perf_counter()
        found = self.first(gray)
        if found:
            return found
        first = 0 if self.full else self._next
        for k in range(len(self.passes)):
            i = (first + k) % len(self.passes)
            found = self.passes[i](gray)
            if found:
                self._next = i   # the pass that reads this code goes first while it stays in view
                return found
            if not self.full and time.perf_counter() - start > self.budget_s:
                self._next = (i + 1) % len(self.passes)
                break
        return found


def make_decoder(name: str, symbologies: Sequence[str], budget_s: float = 0.020) -> Decoder:
    """`auto` (the cascade, the default), `zbar`, `zxing`, or `cascade-full` (every pass every frame)."""
    if name == "zbar":
        inner = zbar_decoder(symbologies)
    elif name == "zxing":
        inner = zxing_decoder(symbologies)
    else:
        inner = Cascade(symbologies, budget_s, full=name == "cascade-full")
    return lambda gray: normalise(inner(gray), symbologies)
