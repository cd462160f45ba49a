"""Rendered frames for the cases real photos showed to be hard: curved and glossy packs, small after fitting, screens.

The camera's misses on real photos clustered in three places, and these render each on purpose:
- `curved`: a 1-D code on a can or bottle: bars squeezed toward the edges, shading falling off with the
  angle, low contrast;
- `glossy`: a 1-D code under a specular highlight band that washes out some bars;
- `small_fit`: a phone photo (4032x2268) fitted to 1280x720 with area averaging: modules of 1.0-1.5 px;
- `screen_moire`: a QR code on a phone screen: the screen's pixel grid beating against the camera's (moire),
  grey blacks and a glare spot.
Each frame is also passed through JPEG at quality 80, as an MJPG camera delivers it. Nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from simulators.devices.photos import jpeg
from simulators.devices.render import SAMPLE_DATA, Gray, Sample, place, symbol_image

CLUSTERS = ("curved", "glossy", "small_fit", "screen_moire")
LINEAR = ("ean13", "upca", "ean8", "code128")
PHOTO = (4032, 2268)


def _curve(symbol: Gray, rng: np.random.Generator) -> Gray:
    """The label wrapped on a cylinder: arc length s appears at x = R sin(s / R), shaded by cos(s / R)."""
    h, w = symbol.shape
    half_angle = rng.uniform(0.9, 1.2)           # radians of the cylinder the label covers on each side
    radius = (w / 2) / half_angle
    out_w = int(2 * radius * np.sin(half_angle))
    x = np.arange(out_w, dtype=np.float32) - out_w / 2
    angle = np.arcsin(np.clip(x / radius, -1, 1))
    map_x = np.tile((angle * radius + w / 2).astype(np.float32), (h, 1))
    map_y = np.repeat(np.arange(h, dtype=np.float32)[:, None], out_w, axis=1)
    bent = cv2.remap(symbol, map_x, map_y, cv2.INTER_LINEAR, borderValue=255)
    shade = (0.35 + 0.65 * np.cos(angle)).astype(np.float32)
    return np.clip(70 + bent.astype(np.float32) * shade * 0.4, 0, 255).astype(np.uint8)


def _gloss(img: Gray, rng: np.random.Generator, box_w: int) -> Gray:
    """A vertical specular band over part of the code, with the whole frame's contrast lowered."""
    h, w = img.shape
    x0 = w / 2 + rng.uniform(-0.3, 0.3) * box_w
    width = rng.uniform(0.05, 0.12) * box_w
    x = np.arange(w, dtype=np.float32)
    band = 190 * np.exp(-(((x - x0) / width) ** 2))
    low = 60 + img.astype(np.float32) * 0.5
    return np.clip(low + band[None, :], 0, 255).astype(np.uint8)


def _screen(img: Gray, rng: np.random.Generator) -> Gray:
    """A phone screen: grey blacks, its pixel grid at a slight angle (moire after sampling), a glare spot."""
    h, w = img.shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    theta, period = rng.uniform(-0.15, 0.15), rng.uniform(2.05, 2.4)
    grid = 0.7 + 0.3 * np.cos(2 * np.pi * (x * np.cos(theta) + y * np.sin(theta)) / period)
    lit = (35 + img.astype(np.float32) * 0.75) * grid
    cx, cy, r = rng.uniform(0.35, 0.65) * w, rng.uniform(0.35, 0.65) * h, rng.uniform(0.06, 0.12) * w
    glare = 150 * np.exp(-(((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r)))
    return np.clip(cv2.GaussianBlur(lit, (0, 0), 0.9) + glare, 0, 255).astype(np.uint8)


def cluster_frame(cls: str, symbology: str, data: str, rng: np.random.Generator,
                  size: tuple[int, int] = (1280, 720)) -> Gray:
    """One frame of cluster `cls` (see the module docstring), JPEG-compressed."""
    if cls == "curved":
        frame = place(_curve(symbol_image(symbology, data, rng.uniform(1.8, 2.6)), rng), size, rng)
    elif cls == "glossy":
        symbol = symbol_image(symbology, data, rng.uniform(2.2, 3.0))
        frame = _gloss(place(symbol, size, rng, rng.uniform(-3, 3)), rng, symbol.shape[1])
    elif cls == "small_fit":
        module = rng.uniform(3.2, 4.6) * (1.5 if symbology == "qr" else 1.0)
        photo = place(symbol_image(symbology, data, module), PHOTO, rng, rng.uniform(-4, 4))
        frame = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
    elif cls == "screen_moire":
        frame = _screen(place(symbol_image(symbology, data, rng.uniform(3.0, 4.5)), size, rng,
                              rng.uniform(-8, 8)), rng)
    else:
        raise ValueError(f"unknown cluster {cls!r}; use one of {', '.join(CLUSTERS)}")
    return jpeg(frame)


def cluster_set(per_class: int, seed: int = 19, size: tuple[int, int] = (1280, 720)) -> Iterator[Sample]:
    """`per_class` frames per cluster: linear codes for curved/glossy, all for small_fit, QR on screens."""
    rng = np.random.default_rng(seed)
    kinds = {"curved": LINEAR, "glossy": LINEAR, "small_fit": (*LINEAR, "qr"), "screen_moire": ("qr",)}
    for cls in CLUSTERS:
        for i in range(per_class):
            symbology = kinds[cls][i % len(kinds[cls])]
            data = SAMPLE_DATA[symbology]
            yield Sample(cls, symbology, data, cluster_frame(cls, symbology, data, rng, size))
