"""Frame sources for the camera driver: OpenCV capture (device, file, RTSP), still images, the newest-frame slot.

A source's `read()` blocks until the next frame and runs in the capture thread; it returns None when the
device is gone or the file has ended. Frames stay in memory: nothing here writes a frame anywhere.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from drivers.base import DeviceUnavailable, UnavailableReason

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".tif", ".tiff", ".webp")


@dataclass(frozen=True, slots=True)
class Frame:
    image: Any          # numpy array, grey or BGR
    captured_at: float  # time.monotonic() when the frame was read


class FrameSource(Protocol):
    """Where frames come from; `read()` blocks for the next one and returns None when the source is gone."""

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...


def parse_source(value: str | int) -> str | int:
    """A device index (0, "0"), /dev/videoN, a file path, or an rtsp:// / http:// URL."""
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    return value


@dataclass(frozen=True, slots=True)
class CaptureSettings:
    """What to ask a live camera for; 0 / "" leave the camera's own default."""

    width: int = 0
    height: int = 0
    fps: int = 0
    fourcc: str = ""   # "MJPG": many USB 2 cameras give 720p at 30 fps only compressed (YUYV: about 10)


class OpenCvSource:
    """cv2.VideoCapture; files are paced at their own frame rate so they behave like a camera."""

    def __init__(self, source: str | int, settings: CaptureSettings = CaptureSettings()) -> None:
        import cv2

        self._cv2 = cv2
        if isinstance(source, str) and not source.startswith(("rtsp:", "http:", "https:")) \
                and not os.path.exists(source):
            raise DeviceUnavailable(UnavailableReason.NOT_FOUND, f"{source} does not exist. Fix: check the "
                                    "camera is plugged in, or the path (omo-edge doctor lists cameras)")
        if isinstance(source, str) and source.startswith("/dev/") and not os.access(source, os.R_OK | os.W_OK):
            raise DeviceUnavailable(UnavailableReason.PERMISSION, f"no access to {source}. Fix: add the service "
                                    "user to the video group")
        self._cap = cv2.VideoCapture(source)
        if not self._cap.isOpened():
            raise DeviceUnavailable(UnavailableReason.FAILED, f"OpenCV cannot open {source}. Fix: check it "
                                    "with omo-edge doctor; another program may hold the camera")
        is_file = isinstance(source, str) and os.path.isfile(source)
        if not is_file:
            self._apply(settings)
        fps = self._cap.get(cv2.CAP_PROP_FPS) if is_file else 0
        self._period = 1.0 / fps if is_file and fps and fps < 1000 else 0.0
        self._next = time.monotonic()

    def _apply(self, settings: CaptureSettings) -> None:
        cv2 = self._cv2
        if settings.fourcc:
            self._cap.set(cv2.CAP_PROP_FOURCC, int.from_bytes(settings.fourcc.encode("ascii"), "little"))
        for prop, value in ((cv2.CAP_PROP_FRAME_WIDTH, settings.width), (cv2.CAP_PROP_FRAME_HEIGHT, settings.height),
                            (cv2.CAP_PROP_FPS, settings.fps)):
            if value:
                self._cap.set(prop, value)

    def read(self) -> Frame | None:
        if self._period:
            self._next += self._period
            delay = self._next - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        ok, image = self._cap.read()
        return Frame(image, time.monotonic()) if ok else None

    def close(self) -> None:
        self._cap.release()


class ImageSource:
    """A still image played as a camera at `fps`, e.g. a photo of a shelf label for a demo."""

    def __init__(self, path: str, fps: float = 30.0) -> None:
        import cv2

        image = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise DeviceUnavailable(UnavailableReason.NOT_FOUND, f"cannot read the image {path}. Fix: check the "
                                    "path and that it is a PNG or JPEG")
        self._image, self._period, self._next = image, 1.0 / fps, time.monotonic()
        self._closed = threading.Event()

    def read(self) -> Frame | None:
        self._next += self._period
        if self._closed.wait(max(0.0, self._next - time.monotonic())):
            return None
        return Frame(self._image, time.monotonic())

    def close(self) -> None:
        self._closed.set()


def open_source(value: str | int, settings: CaptureSettings = CaptureSettings()) -> FrameSource:
    source = parse_source(value)
    if isinstance(source, str) and source.lower().endswith(IMAGE_SUFFIXES):
        return ImageSource(source)
    return OpenCvSource(source, settings)


class LatestFrame:
    """A one-frame slot: the capture thread overwrites, the decoder takes the newest; lag never grows."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._closed = False
        self.skipped = 0

    def put(self, frame: Frame) -> None:
        with self._cond:
            if self._frame is not None:
                self.skipped += 1   # the decoder was busy: the older frame is never decoded
            self._frame = frame
            self._cond.notify()

    def take(self, timeout_s: float = 0.5) -> Frame | None:
        with self._cond:
            self._cond.wait_for(lambda: self._frame is not None or self._closed, timeout_s)
            frame, self._frame = self._frame, None
            return frame

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
