"""The `auto` decoder: zxing-cpp on every frame, a closer look where it saw a code, slower passes when it saw none.

Per frame, in order, within a budget of CPU time:
1. zxing-cpp on the whole frame (fast). It also returns where it saw codes it could not read (checksum
   failed, cut off): those are the candidate regions.
2. A code it read that has a weak check (EAN/UPC, ITF, Code 39: a misread keeps a valid mod-10 digit) is
   read again in a second view: its region cropped, with another decoder, binarizer, scale or CLAHE
   contrast, a different view on each successive frame (and the next one at once if that reads nothing).
   The misread rules (drivers/confirm.py) want two views to agree.
3. Nothing read but a candidate region seen: that region cropped and read closer (2x, CLAHE, zbar), one
   view a frame in turn.
4. Nothing at all: the next of the slow whole-frame passes (zbar, CLAHE, sharpen, binarise, 2x upscale, turned
   by +-30 degrees) until the budget is spent, rotating across frames and starting with the pass that last
   read a code. An empty scene costs at most the budget plus one pass; a code held in view meets every
   pass within a few frames. A code that a slow pass reads is verified in that pass's image, and every
   other frame the next pass goes first, for a second view. `full=True` runs every pass and view on every
   frame (bench, still images).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from drivers.confirm import WEAK_CHECK, view_of
from drivers.decode import Box, Decoded, Decoder, Image, ZxingReader, moved, zbar_decoder

View = Callable[[Image], list[Decoded]]


def upscale(gray: Image, factor: float = 2.0) -> Image:
    """Resized by `factor`: cubic when enlarging, area-averaged when shrinking (which also smooths blur)."""
    import cv2

    method = cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA
    return cv2.resize(gray, None, fx=factor, fy=factor, interpolation=method)


def binarise(gray: Image) -> Image:
    import cv2

    return cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 31, 5)


def rotate(gray: Image, degrees: float) -> Image:
    """Linear codes at 20-40 degrees defeat line scanners; turning the frame brings them near level."""
    import cv2

    h, w = gray.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(gray, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def sharpen(gray: Image) -> Image:
    import cv2

    blurred = cv2.GaussianBlur(gray, (0, 0), 2.0)
    return cv2.addWeighted(gray, 2.0, blurred, -1.0, 0)


def crop(gray: Image, box: Box, wide: bool = False) -> tuple[Image, tuple[int, int]]:
    """The region around `box` with a margin, and its offset.

    A 1-D box can be one scan line high, so the margin grows with the width; on the right it leaves room
    for an EAN/UPC add-on (up to about 60% of the main code's width, after a gap). zbar's region can cover
    only the part of the bars its scan lines crossed (under glare, a third of the code), so `wide` adds the
    region's own width on each side.
    """
    h, w = gray.shape
    x0, y0, x1, y1 = box
    bw = max(8, x1 - x0)
    mx, my = (bw if wide else bw // 6) + 12, max((y1 - y0) // 2, bw // 3) + 12
    left, top = max(0, x0 - mx), max(0, y0 - my)
    return gray[top:min(h, y1 + my), left:min(w, x1 + mx + bw * 2 // 3)], (left, top)


class Cascade:
    """See the module docstring; `budget_s` bounds the slow passes of one frame.

    The budget is this thread's CPU time, not the wall clock: what a frame is given does not shrink when
    other work shares the core, so a held code meets the same passes on a busy machine (frames are then
    skipped instead, and the lag shows it), and the decode rate measured on a busy machine is the real one.
    """

    max_regions = 2   # codes verified, or candidate regions looked at closer, per frame

    def __init__(self, symbologies: Sequence[str], budget_s: float = 0.020, full: bool = False) -> None:
        import cv2

        zxing, zbar = ZxingReader(symbologies), zbar_decoder(symbologies)
        clahe = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8))
        self.first = zxing
        small_2d = any(s in ("qr", "gs1-qr", "datamatrix", "gs1-datamatrix") for s in symbologies)
        # Views of a cropped region: each a different decoder, scale or contrast than the first pass; each
        # decoder at two scales at least, so a code only one decoder can read can still get two views.
        histogram = ZxingReader(symbologies, binarizer="GlobalHistogram")
        self.views: list[tuple[str, float, Decoder]] = [
            ("crop", 1.0, zbar),
            ("crop2x", 2.0, lambda g: zxing(upscale(g))),
            ("crop-hist", 1.0, histogram),
            ("crop-clahe2x", 2.0, lambda g: zbar(upscale(clahe.apply(g)))),
            ("crop-half", 0.5, lambda g: zxing(upscale(g, 0.5))),
            ("crop-clahe2x", 2.0, lambda g: zxing(upscale(clahe.apply(g)))),
        ]
        # Whole-frame passes: (view, transform, decoder, scale of the transformed image, whether its regions
        # map back to the frame: a turned frame's do not).
        self.passes: list[tuple[str, Callable[[Image], Image], Decoder, float, bool]] = [
            ("", _same, zbar, 1.0, True),
            ("clahe", clahe.apply, zxing, 1.0, True),
            ("sharp", sharpen, zxing, 1.0, True),
            ("bin", binarise, zbar, 1.0, True),
            ("2x", upscale if small_2d else _small_upscaled, zxing, 2.0, True),
            ("rot30", lambda g: rotate(g, 30), zxing, 1.0, False),
            ("rot-30", lambda g: rotate(g, -30), zxing, 1.0, False),
        ]
        self.budget_s = budget_s
        self.full = full
        self._next = 0
        self._view = 0
        self._explore = False

    def __call__(self, gray: Image) -> list[Decoded]:
        start = time.thread_time()
        found, candidates = self.first.read(gray)
        self._view = (self._view + 1) % len(self.views)
        if found:
            return found + self._verify(gray, found, start)
        if candidates:
            found = self._look(gray, candidates)
            if found:
                return found + self._verify(gray, found, start)
        return self._slow(gray, start)

    def _look(self, gray: Image, boxes: list[Box]) -> list[Decoded]:
        """The regions cropped and read in this frame's view (every view when `full`)."""
        views = self.views if self.full else [self.views[self._view]]
        out: list[Decoded] = []
        for box in boxes[:self.max_regions]:
            region, offset = crop(gray, box)
            if region.size == 0:
                continue
            for name, scale, decode in views:
                out += moved(decode(region), name, scale, offset)
        return out

    def _verify(self, gray: Image, found: list[Decoded], start: float) -> list[Decoded]:
        """A second view of each weak-check code: this frame's view, then the next ones while they read
        nothing there and the budget lasts.

        Glare or a curve can defeat one decoder entirely, and whole-frame reads of such a code come and go
        from frame to frame; trying the views at once keeps a code that only zbar (or only zxing-cpp) can
        read from waiting many frames for its agreement.
        """
        weak = {d.data: d for d in found if d.symbology in WEAK_CHECK and d.box is not None}
        if self.full:
            return self._look(gray, [d.box for d in weak.values() if d.box is not None])
        out: list[Decoded] = []
        for data, read in list(weak.items())[:self.max_regions]:
            assert read.box is not None
            region, offset = crop(gray, read.box, wide=read.decoder.startswith("zbar"))
            if region.size == 0:
                continue
            for k in range(len(self.views)):
                name, scale, decode = self.views[(self._view + k) % len(self.views)]
                seen = moved(decode(region), name, scale, offset)
                out += seen
                if any(d.data == data and view_of(d.decoder) != view_of(read.decoder) for d in seen) \
                        or (k and time.thread_time() - start > self.budget_s):
                    break
        return out

    def _slow(self, gray: Image, start: float) -> list[Decoded]:
        """The next whole-frame passes within the budget; what one reads is looked at again in its own image."""
        first = 0 if self.full else self._next
        for k in range(len(self.passes)):
            i = (first + k) % len(self.passes)
            name, transform, decode, scale, boxes = self.passes[i]
            image = transform(gray)
            found = decode(image) if image.size else []
            if found:
                # The pass that reads a code goes first while it stays in view; for a weak-check code, every
                # other frame starts at the next pass instead, to find a second view that agrees (or not).
                self._explore = not self._explore and all(d.symbology in WEAK_CHECK for d in found)
                self._next = (i + 1) % len(self.passes) if self._explore else i
                return moved(found + self._verify(image, found, start), name, scale, keep_box=boxes)
            if not self.full and time.thread_time() - start > self.budget_s:
                self._next = (i + 1) % len(self.passes)
                break
        return []


def _same(gray: Image) -> Image:
    return gray


def _small_upscaled(gray: Image) -> Image:
    """2x up to 800 rows; a larger frame's linear codes are not small enough to gain (an empty image then)."""
    return upscale(gray) if gray.shape[0] <= 800 else gray[:0, :0]
