"""VirtualCamera: a FrameSource showing rendered barcodes (clean or distorted), blank or noisy frames, or files.

    cam = VirtualCamera(fps=60)
    SimCameraScanner("overhead", {"source": cam.source})   # `sim+camera`: the real camera driver
    cam.show("4006381333931", "ean13"); cam.flash("12345670", "ean8"); cam.blank(); cam.unplug()

Frames are served in real time at `fps` (the driver's newest-frame logic is exercised for real).
"""

from __future__ import annotations

import itertools
import threading
import time
import weakref
from collections.abc import Mapping

import numpy as np

from drivers.base import DeviceUnavailable, UnavailableReason
from drivers.camera import CameraScanner
from drivers.frames import Frame, FrameSource, open_source
from simulators.devices.render import Gray, distorted, scene

_CAMERAS: weakref.WeakValueDictionary[str, VirtualCamera] = weakref.WeakValueDictionary()
_IDS = itertools.count(1)


class VirtualCamera:
    """Fault knobs: `.flash()` (a one-frame misread), `.noise()`, `.freeze()`, `.unplug()`/`.replug()`, `.play()`."""

    def __init__(self, *, fps: float = 30.0, size: tuple[int, int] = (640, 480), seed: int = 1) -> None:
        self.fps, self.size = fps, size
        self.source = f"sim:camera{next(_IDS)}"
        self.plugged = True
        self.frames_served = 0
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self._image: Gray = scene(size, self._rng)
        self._blank = self._image
        self._once: list[Gray] = []
        self._file: FrameSource | None = None
        self._next = time.monotonic()
        self._thawed = threading.Event()
        self._thawed.set()
        _CAMERAS[self.source] = self

    def show(self, data: str, symbology: str = "ean13", cls: str = "clean") -> None:
        """Hold a code in view (rendered once, shown on every frame until changed)."""
        image = distorted(symbology, data, cls, self._rng, self.size)
        with self._lock:
            self._image, self._file = image, None

    def flash(self, data: str, symbology: str = "ean13", frames: int = 1) -> None:
        """Show a code for only `frames` frames: what a single-frame misread looks like to the tracker."""
        image = distorted(symbology, data, "clean", self._rng, self.size)
        with self._lock:
            self._once = [image] * frames

    def show_image(self, image: Gray) -> None:
        with self._lock:
            self._image, self._file = image, None

    def blank(self) -> None:
        with self._lock:
            self._image, self._file = self._blank, None

    def noise(self) -> None:
        """Sensor noise with no code in it."""
        self.show_image(self._rng.integers(0, 256, size=(self.size[1], self.size[0]), dtype=np.uint8))

    def play(self, path: str) -> None:
        """Serve frames from an image or video file (OpenCV) instead of rendered ones."""
        source = open_source(path)
        with self._lock:
            self._file = source

    def freeze(self, frozen: bool = True) -> None:
        """Stop delivering frames without an error, like a wedged USB camera or a stalled RTSP stream."""
        if frozen:
            self._thawed.clear()
        else:
            self._thawed.set()

    def unplug(self) -> None:
        self.plugged = False
        self._thawed.set()

    def replug(self) -> None:
        self.plugged = True

    def read(self) -> Frame | None:
        self._thawed.wait()
        self._next = max(self._next + 1.0 / self.fps, time.monotonic() - 1.0)
        delay = self._next - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if not self.plugged:
            return None
        with self._lock:
            if self._file is not None:
                return self._file.read()
            image = self._once.pop(0) if self._once else self._image
        self.frames_served += 1
        return Frame(image, time.monotonic())

    def close(self) -> None:
        """The driver released the camera; the virtual one stays available for the next open."""


def lookup(source: str) -> VirtualCamera:
    camera = _CAMERAS.get(source)
    if camera is None or not camera.plugged:
        raise DeviceUnavailable(UnavailableReason.NOT_FOUND, f"no virtual camera {source!r} (or it is unplugged). "
                                "Fix: create a VirtualCamera and use its .source")
    return camera


class SimCameraScanner(CameraScanner):
    """`sim+camera`: the real CameraScanner reading a VirtualCamera named by `source = "sim:cameraN"`."""

    def __init__(self, name: str, options: Mapping[str, object]) -> None:
        super().__init__(name, options)

    def _open_source(self) -> FrameSource:
        if isinstance(self.source, str) and self.source.startswith("sim:"):
            return lookup(self.source)
        return super()._open_source()
