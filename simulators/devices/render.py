"""Render barcodes onto camera-like frames, clean or distorted, for the virtual camera, tests and bench/camera.py.

Linear codes come from python-barcode's module patterns, QR from segno, GS1 DataBar (no python-barcode
generator) from zxing-cpp's writer. Each is drawn at an exact module size and placed on a textured grey
"scene", then bent by one distortion class. Nothing here is written to disk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

Gray = npt.NDArray[np.uint8]
SYMBOLOGIES = ("ean13", "upca", "ean8", "code128", "databar", "databar-expanded", "qr")
SAMPLE_DATA = {
    "ean13": "4006381333931", "upca": "036000291452", "ean8": "12345670", "code128": "OMO-LANE-01",
    "databar": "0104006381333931", "databar-expanded": "010400638133393117261231", "qr": "omo:member:12345678",
}
CLASSES = ("clean", "rotation", "perspective", "blur", "motion", "noise", "low_contrast", "small", "combined",
           "rot90")


def modules(symbology: str, data: str) -> npt.NDArray[np.bool_]:
    """The code as a 2-D array of modules, True = dark, without quiet zone."""
    if symbology == "qr":
        import segno

        return np.array(segno.make_qr(data, error="m").matrix, dtype=bool)
    if symbology in ("databar", "databar-expanded"):
        import zxingcpp

        fmt = zxingcpp.BarcodeFormat.DataBar if symbology == "databar" else zxingcpp.BarcodeFormat.DataBarExp
        content = data[2:15] if symbology == "databar" else _bracketed(data)   # the writer wants these forms
        image = zxingcpp.write_barcode_to_image(zxingcpp.create_barcode(content, fmt), scale=1,
                                                add_quiet_zones=False)
        return np.array(image) < 128
    import barcode

    kind = {"ean13": "ean13", "upca": "upca", "ean8": "ean8", "code128": "code128", "gs1-128": "gs1_128"}[symbology]
    body = data[:-1] if symbology in ("ean13", "upca", "ean8") else data   # python-barcode adds the check digit
    row = np.array([c == "1" for c in barcode.get(kind, body).build()[0]], dtype=bool)
    return np.tile(row, (max(24, len(row) // 3), 1))


def _bracketed(element_string: str) -> str:
    """`0104006381333931172612311` -> `(01)04006381333931(17)261231`, for AIs 01 and 17 then one variable AI."""
    out, rest = "", element_string
    while rest:
        ai = rest[:2]
        size = {"01": 14, "17": 6, "11": 6, "15": 6}.get(ai, len(rest) - 2)
        out, rest = out + f"({ai}){rest[2:2 + size]}", rest[2 + size:]
    return out


def symbol_image(symbology: str, data: str, module_px: float) -> Gray:
    """Black on white at `module_px` pixels a module, with a quiet zone of 10 modules (4 for 2-D codes)."""
    m = modules(symbology, data)
    quiet = 4 if symbology == "qr" or m.shape[0] < 24 else 10
    m = np.pad(m, quiet, constant_values=False)
    img = np.where(m, 0, 255).astype(np.uint8)
    h, w = img.shape
    return cv2.resize(img, (max(1, round(w * module_px)), max(1, round(h * module_px))),
                      interpolation=cv2.INTER_AREA if module_px < 1 else cv2.INTER_NEAREST)


def scene(size: tuple[int, int], rng: np.random.Generator) -> Gray:
    """A grey, uneven background (a counter, a hand, a bag) so codes are not on pure white."""
    w, h = size
    small = rng.integers(60, 200, size=(max(2, h // 80), max(2, w // 80)), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def place(symbol: Gray, size: tuple[int, int], rng: np.random.Generator, angle: float = 0.0) -> Gray:
    """Paste the symbol onto a scene near the centre, rotated by `angle` degrees about its centre."""
    frame = scene(size, rng)
    w, h = size
    sh, sw = symbol.shape
    mask = np.full_like(symbol, 255)
    matrix = cv2.getRotationMatrix2D((sw / 2, sh / 2), angle, 1.0)
    cx = w / 2 + rng.uniform(-0.1, 0.1) * w
    cy = h / 2 + rng.uniform(-0.1, 0.1) * h
    matrix[:, 2] += (cx - sw / 2, cy - sh / 2)
    warped = cv2.warpAffine(symbol, matrix, size, flags=cv2.INTER_LINEAR, borderValue=255)
    inside = cv2.warpAffine(mask, matrix, size, flags=cv2.INTER_NEAREST, borderValue=0) > 0
    frame[inside] = warped[inside]
    return frame


def _perspective(img: Gray, rng: np.random.Generator, amount: float) -> Gray:
    h, w = img.shape
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    jitter = rng.uniform(-amount, amount, size=(4, 2)) * (w * 0.5, h * 0.5)
    return cv2.warpPerspective(img, cv2.getPerspectiveTransform(src, np.float32(src + jitter)), (w, h),
                               borderValue=128)


def _motion(img: Gray, length: int, angle: float) -> Gray:
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0 / length
    rot = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle, 1.0)
    kernel = cv2.warpAffine(kernel, rot, (length, length))
    return cv2.filter2D(img, -1, kernel / max(kernel.sum(), 1e-6))


def _noise(img: Gray, rng: np.random.Generator, sigma: float) -> Gray:
    return np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


def _contrast(img: Gray, low: int, span: int) -> Gray:
    return (low + img.astype(np.float32) * (span / 255.0)).astype(np.uint8)


@dataclass(frozen=True, slots=True)
class Sample:
    cls: str
    symbology: str
    data: str
    image: Gray


def distorted(symbology: str, data: str, cls: str, rng: np.random.Generator,
              size: tuple[int, int] = (1280, 720)) -> Gray:
    """One frame of the hard set: the code rendered and bent by distortion class `cls`."""
    two_d = symbology == "qr"
    module = rng.uniform(2.0, 3.0) * (1.6 if two_d else 1.0) * max(0.8, size[0] / 1280)
    if cls == "small":
        module = rng.uniform(1.2, 1.6) * (2.0 if two_d else 1.0)
    angle = {"rotation": rng.uniform(8, 35) * rng.choice([-1, 1]), "rot90": 90.0 * rng.choice([1, 3]),
             "combined": rng.uniform(-12, 12)}.get(cls, rng.uniform(-2, 2))
    img = place(symbol_image(symbology, data, module), size, rng, angle)
    steps: dict[str, Callable[[Gray], Gray]] = {
        "perspective": lambda i: _perspective(i, rng, 0.18),
        "blur": lambda i: cv2.GaussianBlur(i, (0, 0), rng.uniform(1.1, 1.6)),
        "motion": lambda i: _motion(i, int(rng.integers(7, 12)), rng.uniform(0, 180)),
        "noise": lambda i: _noise(i, rng, rng.uniform(28, 40)),
        "low_contrast": lambda i: _contrast(i, int(rng.integers(90, 140)), int(rng.integers(18, 30))),
        "combined": lambda i: _noise(_contrast(cv2.GaussianBlur(_perspective(i, rng, 0.06), (0, 0), 0.9),
                                               70, 110), rng, 8),
    }
    return steps[cls](img) if cls in steps else img


def hard_set(per_class: int, seed: int = 7, size: tuple[int, int] = (1280, 720),
             classes: tuple[str, ...] = CLASSES) -> Iterator[Sample]:
    """`per_class` frames for every distortion class, cycling through the symbologies; deterministic."""
    rng = np.random.default_rng(seed)
    for cls in classes:
        for i in range(per_class):
            symbology = SYMBOLOGIES[i % len(SYMBOLOGIES)]
            data = SAMPLE_DATA[symbology]
            yield Sample(cls, symbology, data, distorted(symbology, data, cls, rng, size))
