"""Barcode decoding of one grayscale image: pyzbar and zxing-cpp, each giving what it read and where.

Decoders are always given a grayscale image (pyzbar given a colour image silently reads one channel) and
restricted to the configured symbologies (2-4x faster, fewer misreads). Every result carries the region it
was read in (`box`, frame pixels) and the view that read it (`decoder`: "zxing", "zbar", or a pass such as
"zxing/crop2x"), because the misread rules (drivers/confirm.py) weigh agreement between views and overlap
between regions. EAN/UPC add-ons (2 or 5 digits, on books and magazines) are read by zxing-cpp and kept apart
from the main code in `addon`, so the GTIN stays the product key. The cascade that combines the decoders is
drivers/cascade.py, and drivers/decoder_choice.py picks one by name. Imports of cv2/pyzbar/zxingcpp happen
on first use, never at module import.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

Image = Any   # a 2-D uint8 numpy array; typed loosely so this module imports without numpy
Box = tuple[int, int, int, int]   # x0, y0, x1, y1 in the pixels of the frame handed to the decoder

SYMBOLOGIES = ("ean13", "ean8", "upca", "upce", "code128", "gs1-128", "databar", "databar-expanded", "qr",
               "gs1-qr", "datamatrix", "gs1-datamatrix", "itf", "code39")
DEFAULT_SYMBOLOGIES = ("ean13", "ean8", "upca", "upce", "code128", "databar", "databar-expanded", "qr")
DECODERS = ("auto", "zbar", "zxing", "cascade-full")
RETAIL = ("ean13", "upca", "ean8", "upce")   # the codes that can carry an add-on

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
_ZXING_NAMES = {"EAN13": "ean13", "EAN8": "ean8", "UPCA": "upca", "UPCE": "upce", "Code128": "code128",
                "QRCode": "qr", "DataMatrix": "datamatrix", "ITF": "itf", "Code39": "code39",
                "DataBarExp": "databar-expanded", "DataBarExpanded": "databar-expanded"}
_ZXING_GS1 = {"code128": "gs1-128", "qr": "gs1-qr", "datamatrix": "gs1-datamatrix"}


@dataclass(frozen=True, slots=True)
class Decoded:
    symbology: str
    data: bytes                # the main code; an add-on is never part of it
    aim: str | None = None
    decoder: str = ""          # the view that read it: "zxing", "zbar", "zxing/crop2x", ...
    addon: str | None = None   # an EAN/UPC add-on ("12" or "51299") read with the code
    box: Box | None = None     # where it was read; None when a pass cannot say (a turned frame)


Decoder = Callable[[Image], list[Decoded]]


def moved(found: list[Decoded], view: str, scale: float = 1.0, offset: tuple[int, int] = (0, 0),
          keep_box: bool = True) -> list[Decoded]:
    """Results of a pass on a scaled crop, named for the pass and with boxes back in frame pixels."""
    out = []
    for d in found:
        box = None
        if keep_box and d.box is not None:
            x0, y0, x1, y1 = d.box
            box = (offset[0] + round(x0 / scale), offset[1] + round(y0 / scale),
                   offset[0] + round(x1 / scale), offset[1] + round(y1 / scale))
        out.append(replace(d, decoder=f"{d.decoder}/{view}" if view else d.decoder, box=box))
    return out


def zbar_decoder(symbologies: Sequence[str]) -> Decoder:
    """pyzbar restricted to `symbologies`; zbar reads UPC-A as 12 digits when upca is enabled."""
    from pyzbar import pyzbar

    wanted = sorted({_ZBAR[s] for s in symbologies if s in _ZBAR})
    symbols = [getattr(pyzbar.ZBarSymbol, name) for name in wanted]

    def decode(gray: Image) -> list[Decoded]:
        if not symbols:
            return []
        return [Decoded(_ZBAR_NAMES.get(r.type, "unknown"), r.data, None, "zbar",
                        box=(r.rect.left, r.rect.top, r.rect.left + r.rect.width, r.rect.top + r.rect.height))
                for r in pyzbar.decode(gray, symbols=symbols)]

    return decode


class ZxingReader:
    """zxing-cpp restricted to `symbologies`, reading add-ons; also says where it saw a code it could not read.

    `return_errors=True` costs nothing extra: the regions of codes that failed their checksum or were cut off
    are the candidate regions a second, closer pass looks at (drivers/cascade.py).
    """

    def __init__(self, symbologies: Sequence[str], *, binarizer: str = "LocalAverage") -> None:
        import zxingcpp

        names = sorted({_ZXING[s] for s in symbologies if s in _ZXING})
        self._zxing = zxingcpp
        self._formats = zxingcpp.barcode_formats_from_str(",".join(names)) if names else None
        self._binarizer = getattr(zxingcpp.Binarizer, binarizer)
        self._addons = zxingcpp.EanAddOnSymbol.Read if set(symbologies) & set(RETAIL) else \
            zxingcpp.EanAddOnSymbol.Ignore

    def read(self, gray: Image) -> tuple[list[Decoded], list[Box]]:
        """(codes read, regions of codes seen but not read)."""
        if self._formats is None:
            return [], []
        z = self._zxing
        found = z.read_barcodes(gray, formats=self._formats, text_mode=z.TextMode.Plain, binarizer=self._binarizer,
                                try_invert=False, ean_add_on_symbol=self._addons, return_errors=True)
        return [_from_zxing(r) for r in found if r.valid], [_box(r.position) for r in found if not r.valid]

    def __call__(self, gray: Image) -> list[Decoded]:
        return self.read(gray)[0]


def zxing_decoder(symbologies: Sequence[str], *, binarizer: str = "LocalAverage") -> Decoder:
    """zxing-cpp restricted to `symbologies`; GS1 content is named gs1-128 / gs1-qr / gs1-datamatrix."""
    return ZxingReader(symbologies, binarizer=binarizer)


def _box(position: Any) -> Box:
    xs = [p.x for p in (position.top_left, position.top_right, position.bottom_right, position.bottom_left)]
    ys = [p.y for p in (position.top_left, position.top_right, position.bottom_right, position.bottom_left)]
    return min(xs), min(ys), max(xs), max(ys)


def _from_zxing(result: Any) -> Decoded:
    fmt = result.format.name
    name = _ZXING_NAMES.get(fmt, "")
    if not name:
        name = "databar" if fmt.startswith("DataBar") else "unknown"
    aim = result.symbology_identifier or None
    if name in _ZXING_GS1 and aim in ("]C1", "]Q3", "]Q5", "]d2", "]d5"):
        name = _ZXING_GS1[name]
    data, addon = bytes(result.bytes), None
    extra = result.extra if name in RETAIL else None
    if isinstance(extra, dict) and extra.get("EanAddOn"):
        data, addon = split_addon(data, str(extra["EanAddOn"]))
        aim = {"]E3": "]E0"}.get(aim or "", aim)   # ]E3 names "with add-on"; the add-on is carried apart
    return Decoded(name, data, aim, "zxing", addon, _box(result.position))


def split_addon(text: bytes, addon: str) -> tuple[bytes, str | None]:
    """The main code without the add-on zxing-cpp appends to it, and the add-on if it is one (2 or 5 digits).

    zxing-cpp was seen returning "0262" as the add-on of a real photo: part of a 5-digit add-on, which is
    dropped (the code is kept) rather than carried.
    """
    main = text[:-len(addon)] if text.endswith(addon.encode()) else text
    return main, addon if len(addon) in (2, 5) and addon.isdigit() and addon.isascii() else None


def normalise(found: list[Decoded], symbologies: Sequence[str]) -> list[Decoded]:
    """UPC-A read as a 13-digit EAN-13 with a leading 0 becomes the 12-digit UPC-A, so decoders agree.

    The same code read twice in one image (zxing-cpp reads the bars once with and once without the add-on)
    is one result, the one with the add-on.
    """
    if "upca" in symbologies:
        found = [replace(d, symbology="upca", data=d.data[1:])
                 if d.symbology == "ean13" and len(d.data) == 13 and d.data.startswith(b"0") else d for d in found]
    best: dict[tuple[bytes, str], Decoded] = {}
    for d in found:
        key = (d.data, d.decoder)
        if key not in best or (d.addon and not best[key].addon):
            best[key] = d
    return list(best.values())

