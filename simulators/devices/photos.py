"""Real photos played to the camera path as a 1280x720 MJPG video, scored against zbar and zxing-cpp alone.

The photos live outside the repository (`../shared/camera-photos`, each image beside a `.txt` with the text
it encodes; an add-on code is the main code followed by the add-on). Each photo is fitted into the frame
(shrunk when larger, never enlarged: a small code stays small), written with the other photos to a real MJPG
file (JPEG loss included) and read back, each photo held for `hold` frames. The same frames then go
through zbar alone, zxing-cpp alone and the driver's decoder with its misread rules, frame by frame in step
(none skipped, so the figures do not depend on the machine's load). Nothing is written except the video,
to a path the caller gives (a temporary folder).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from drivers.confirm import ConfirmTracker
from drivers.decode import DEFAULT_SYMBOLOGIES, Decoded, normalise, zbar_decoder, zxing_decoder
from drivers.decoder_choice import make_decoder
from simulators.devices.render import Sample

Gray = npt.NDArray[np.uint8]
SIZE = (1280, 720)
SYMBOLOGIES = (*DEFAULT_SYMBOLOGIES, "itf")   # the photo sets include ITF-14 cases
SUFFIXES = (".png", ".webp", ".jpg", ".jpeg")


def photos_root(repo: Path) -> Path:
    """`../shared/camera-photos` beside the repository (a worktree or a CI clone both sit next to shared/)."""
    return repo.resolve().parent / "shared" / "camera-photos"


@dataclass(frozen=True, slots=True)
class Photo:
    name: str       # "set/stem"
    expected: str
    image: Gray


def load(root: Path) -> list[Photo]:
    """Every image with its expected text, in a stable order."""
    out = []
    for text in sorted(root.glob("*/*.txt")):
        image = next((p for p in sorted(text.parent.glob(f"{text.stem}.*")) if p.suffix.lower() in SUFFIXES), None)
        gray = cv2.imread(str(image), cv2.IMREAD_GRAYSCALE) if image else None
        if gray is not None:
            out.append(Photo(f"{text.parent.name}/{text.stem}", text.read_text(encoding="utf-8"), gray))
    return out


def fit(image: Gray, size: tuple[int, int] = SIZE) -> Gray:
    """The photo centred on a grey frame, shrunk to fit when larger than it."""
    h, w = image.shape
    scale = min(1.0, size[0] / w, size[1] / h)
    if scale < 1.0:
        image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    frame = np.full((size[1], size[0]), 128, np.uint8)
    y, x = (size[1] - image.shape[0]) // 2, (size[0] - image.shape[1]) // 2
    frame[y:y + image.shape[0], x:x + image.shape[1]] = image
    return frame


def jpeg(image: Gray, quality: int = 80) -> Gray:
    """One frame as an MJPG camera delivers it (for figures that need frames without a video file)."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)


def write_video(images: Sequence[Gray], path: Path, hold: int, fps: float = 30.0) -> None:
    """An MJPG AVI showing each image for `hold` frames, as a camera would deliver it."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, SIZE, isColor=False)
    for image in images:
        for _ in range(hold):
            writer.write(image)
    writer.release()


def read_video(path: Path) -> Iterator[Gray]:
    capture = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    finally:
        capture.release()


def text_of(d: Decoded) -> str:
    return d.data.decode("utf-8", "replace") + (d.addon or "")


def matches(reported: str, expected: str) -> bool:
    """The expected text, allowing UPC-A as 12 digits where zxing-cpp's sample text has 13."""
    return reported == expected or "0" + reported == expected


def misread(reported: str, expected: str) -> bool:
    """A text that is not there: neither the expected text nor its main code without the add-on."""
    if matches(reported, expected):
        return False
    return not any(matches(reported, expected[:n]) for n in (8, 12, 13) if len(expected) > n)


@dataclass(slots=True)
class Score:
    """Per way of reading: photos decoded, and each misread as (photo, text)."""

    photos: int = 0
    decoded: int = 0
    misreads: list[tuple[str, str]] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    def add(self, photo: Photo, texts: set[str]) -> None:
        self.photos += 1
        hit = any(matches(t, photo.expected) for t in texts)
        self.decoded += hit
        self.missed += [] if hit else [photo.name]
        self.misreads += [(photo.name, t) for t in sorted(texts) if misread(t, photo.expected)]

    @property
    def rate(self) -> float:
        return self.decoded / max(1, self.photos)


@dataclass(frozen=True, slots=True)
class Played:
    scores: dict[str, Score]   # zbar, zxing, either (their union), agent
    suppressed: int            # codes the misread rules held back (misreads_suppressed)
    classes: list[str]         # each photo's set or distortion class, in order (the first part of its name)


def rendered(samples: Iterable[Sample]) -> list[Photo]:
    """Rendered frames (simulators/devices/render.py, clusters.py) as photos named class/symbology/index."""
    return [Photo(f"{s.cls}/{s.symbology}/{i}", s.data, s.image) for i, s in enumerate(samples)]


def play(photos: Sequence[Photo], video: Path | None, hold: int = 12, *, guard: bool = True,
         decoder: str = "auto") -> Played:
    """The photos through zbar, zxing-cpp, their union and the driver's path, each held for `hold` frames.

    With `video`, the frames are those of an MJPG file written there and read back; without, the fitted
    images themselves (rendered frames, already camera-sized).
    """
    images = [fit(p.image) for p in photos]
    if video is not None:
        write_video(images, video, hold)
    zbar, zxing = zbar_decoder(SYMBOLOGIES), zxing_decoder(SYMBOLOGIES)
    agent, suppressed = make_decoder(decoder, SYMBOLOGIES), 0
    scores = {name: Score() for name in ("zbar", "zxing", "either", "agent")}
    frames = read_video(video) if video is not None else (image for image in images for _ in range(hold))
    for photo in photos:
        # Each photo is a new item: its own tracker, or a code shown in two photos in a row would be one scan.
        tracker = ConfirmTracker(2, 1.0, guard=guard)
        seen: dict[str, set[str]] = {"zbar": set(), "zxing": set(), "agent": set()}
        for k in range(hold):
            frame = next(frames)
            seen["zbar"] |= {text_of(d) for d in normalise(zbar(frame), SYMBOLOGIES)}
            seen["zxing"] |= {text_of(d) for d in normalise(zxing(frame), SYMBOLOGIES)}
            seen["agent"] |= {text_of(d) for d in tracker.frame(agent(frame), k / 30)}
        tracker.frame([], hold / 30 + 10)   # the photo is gone: its tracks expire and are counted
        suppressed += tracker.suppressed
        for name in ("zbar", "zxing", "agent"):
            scores[name].add(photo, seen[name])
        scores["either"].add(photo, seen["zbar"] | seen["zxing"])
    return Played(scores, suppressed, [p.name.split("/")[0] for p in photos])
