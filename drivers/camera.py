"""Camera scanners: capture in one thread, decode the newest frame in another, confirm codes across frames.

Two threads per camera because capture must keep draining the device (or its buffer fills with stale frames
and the lag grows) while decoding takes as long as it takes; the decoder always takes the newest frame.
Confirmed codes go to the event loop with `call_soon_threadsafe`. No frame is written to disk or sent anywhere:
a phone screen or a payment card can be in view.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any, Self

from drivers.base import DeviceUnavailable, DriverOptionError, ScanEvent, UnavailableReason
from drivers.confirm import ConfirmTracker
from drivers.decode import DECODERS, DEFAULT_SYMBOLOGIES, SYMBOLOGIES, Decoded, Decoder
from drivers.decoder_choice import make_decoder
from drivers.events import FAILED, ScanQueue, snapshot
from drivers.frames import CaptureSettings, Frame, FrameSource, LatestFrame, open_source, parse_source
from drivers.options import Options


class CameraScanner:
    """One camera; `async with` starts capture and decoding, `scans()` yields confirmed codes."""

    stall_s = 5.0   # no frame for this long (a wedged USB camera, a stalled RTSP stream) counts as unplugged

    def __init__(self, name: str, options: Mapping[str, object]) -> None:
        o = Options("camera", options)
        self.name = name
        raw_source = o.raw("source", None)
        if not isinstance(raw_source, str | int) or isinstance(raw_source, bool):
            raise DriverOptionError("source", "the camera driver needs source. Fix: source = \"/dev/video0\", "
                                    "a device index, a file or an rtsp:// URL")
        self.source = parse_source(raw_source)
        self.decoder = o.choice("decoder", "auto", DECODERS)
        self.symbologies = o.texts("symbologies", list(DEFAULT_SYMBOLOGIES))
        self.confirm_frames = o.integer("confirm_frames", 2, 1, 30)
        self.rearm_s = o.integer("rearm_ms", 1000, 0, 600_000) / 1000
        self.roi = o.integers("roi", None, 4)
        self.downscale = o.number("downscale", 1.0, 0.1, 1.0)
        self.bounce_s = o.integer("bounce_ms", 300, 0, 60_000) / 1000
        self.capture = CaptureSettings(width=o.integer("width", 0, 0, 8192), height=o.integer("height", 0, 0, 8192),
                                       fps=o.integer("fps", 0, 0, 240), fourcc=o.text("fourcc", ""))
        o.finish()
        if self.capture.fourcc and (len(self.capture.fourcc) != 4 or not self.capture.fourcc.isascii()):
            raise DriverOptionError("fourcc", f"{self.capture.fourcc!r} is not a FourCC. Fix: use four characters "
                                    "such as \"MJPG\" or \"YUYV\"")
        unknown = [s for s in self.symbologies if s not in SYMBOLOGIES]
        if unknown or not self.symbologies:
            raise DriverOptionError("symbologies", f"unknown symbology {unknown[0] if unknown else '(none)'}. "
                                    f"Fix: use some of {', '.join(SYMBOLOGIES)}")
        if self.roi is not None and (self.roi[2] <= 0 or self.roi[3] <= 0 or min(self.roi) < 0):
            raise DriverOptionError("roi", f"{self.roi} is not a region. Fix: roi = [x, y, width, height] in pixels")
        self._counters: Counter[str] = Counter()
        # A single decoder has one view: its reads are confirmed by frames and the conflict rules alone.
        self._tracker = ConfirmTracker(self.confirm_frames, self.rearm_s,
                                       views_needed=1 if self.decoder in ("zbar", "zxing") else 2)
        self._queue: ScanQueue | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._slot = LatestFrame()
        self._source: FrameSource | None = None

    def _open_source(self) -> FrameSource:
        """The frame source; the simulator's driver overrides this to hand in a VirtualCamera."""
        return open_source(self.source, self.capture)

    async def __aenter__(self) -> Self:
        try:
            decode = make_decoder(self.decoder, self.symbologies)   # imports cv2/zxing/pyzbar now, not at config
        except ImportError as exc:
            raise DeviceUnavailable(UnavailableReason.FAILED, f"camera {self.name!r}: {exc}. Fix: install the "
                                    "camera extra: pip install 'omo-edge[camera]' (and libzbar0)") from exc
        self._source = await asyncio.to_thread(self._open_source)   # V4L2 opens can take a second
        loop = asyncio.get_running_loop()
        self._stop.clear()
        self._slot = LatestFrame()
        self._queue = ScanQueue(self.name, self._counters, bounce_s=self.bounce_s)
        self._threads = [threading.Thread(target=self._capture, args=(loop, self._source), daemon=True,
                                          name=f"camera-{self.name}-capture"),
                         threading.Thread(target=self._decode, args=(loop, decode), daemon=True,
                                          name=f"camera-{self.name}-decode")]
        for thread in self._threads:
            thread.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._stop.set()
        self._slot.close()
        if self._source is not None:
            self._source.close()
        await asyncio.to_thread(self._join)

    def _join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=5.0)

    def scans(self) -> AsyncIterator[ScanEvent]:
        if self._queue is None:
            raise RuntimeError("open the camera first: async with CameraScanner(...) as camera")
        return self._queue.events()

    def counters(self) -> Mapping[str, int]:
        tracker = self._tracker
        return snapshot(self._counters, {FAILED: tracker.unconfirmed + tracker.suppressed,
                                         "unconfirmed_read_count": tracker.unconfirmed,
                                         "misreads_suppressed": tracker.suppressed,
                                         "frame_skipped_count": self._slot.skipped})

    def details(self) -> Mapping[str, object]:
        return {"source": str(self.source), "decoder": self.decoder, "codes_in_view": self._tracker.in_view}

    def _capture(self, loop: asyncio.AbstractEventLoop, source: FrameSource) -> None:
        while not self._stop.is_set():
            try:
                frame = source.read()
            except Exception as exc:   # a backend error is the camera going away, not a bug in the loop
                frame, why = None, str(exc)
            else:
                why = "no more frames"
            if frame is None:
                if not self._stop.is_set():
                    loop.call_soon_threadsafe(self._gone, why)
                return
            self._counters["frame_count"] += 1
            self._slot.put(frame)

    def _decode(self, loop: asyncio.AbstractEventLoop, decode: Decoder) -> None:
        last_frame = time.monotonic()
        while not self._stop.is_set():
            frame = self._slot.take(min(0.5, self.stall_s))
            if frame is None:
                if time.monotonic() - last_frame > self.stall_s and not self._stop.is_set():
                    loop.call_soon_threadsafe(self._gone, f"no frame for {self.stall_s:g} s")
                    return
                continue
            last_frame = time.monotonic()
            found = decode(self._prepare(frame))
            self._counters["decoded_frame_count"] += 1
            confirmed = self._tracker.frame(found, frame.captured_at)
            if confirmed:
                loop.call_soon_threadsafe(self._deliver, confirmed, frame)

    def _prepare(self, frame: Frame) -> Any:
        """Grayscale, region of interest, downscale: all cheap, and each makes decoding faster."""
        import cv2

        image = frame.image
        if image.ndim == 3:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if self.roi is not None:
            x, y, w, h = self.roi
            image = image[y:y + h, x:x + w]
        if self.downscale < 1.0:
            image = cv2.resize(image, None, fx=self.downscale, fy=self.downscale, interpolation=cv2.INTER_AREA)
        return image

    def _deliver(self, confirmed: list[Decoded], frame: Frame) -> None:
        if self._queue is None or self._stop.is_set():
            return
        for d in confirmed:
            self._queue.offer(d.data, d.data, aim=d.aim, symbology=d.symbology, at=frame.captured_at, addon=d.addon)

    def _gone(self, why: str) -> None:
        if self._queue is not None:
            self._queue.fail(DeviceUnavailable(UnavailableReason.UNPLUGGED,
                                               f"camera {self.name!r} ({self.source}) stopped: {why}. "
                                               "Fix: check the cable; the agent reopens it by itself"))
