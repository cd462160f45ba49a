"""Pure: which decoded codes to report from a stream of frames, and which to hold back as likely misreads.

Every decoder returns an occasional misread with a valid check digit, and a code held still gives the same
image on every frame, so the same misread can come back frame after frame. A code is reported when:
- `confirm_frames` frames saw it; and, for codes with a weak check (EAN/UPC, ITF, Code 39: mod 10 or none),
- at least `views_needed` independent views read it (two decoders, or one decoder at two scales: see
  `view_of`); and
- no other weak-check code read in the same region conflicts with it (read in this frame, or held back
  within the last `burst_s` seconds) unless this one has more views than it: a one-view read that conflicts
  with a better-supported one is held back, and two equally supported readings of one region hold each
  other back; a code already reported and no longer in view holds nothing back; and
- an EAN-8 or UPC-E is not inside the region of a longer linear code (zxing-cpp and zbar both find an EAN-8's
  pattern inside UPC-A bars).
A code held back and never reported is counted in `suppressed` (health: `misreads_suppressed`); one that
simply was not seen in enough frames, in `unconfirmed`. A code held in view is reported once; it re-arms only
after it has been out of view for `rearm_s`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from drivers.decode import Box, Decoded

WEAK_CHECK = frozenset({"ean13", "upca", "ean8", "upce", "itf", "code39"})
SHORT = frozenset({"ean8", "upce"})
LINEAR = WEAK_CHECK | {"code128", "gs1-128", "databar", "databar-expanded"}


def view_of(reader: str) -> str:
    """The independent view a reading comes from: its decoder and the scale it saw the bars at.

    Another binarizer, CLAHE or a crop at the same scale runs the same line decoder over the same pixels, and
    repeats its misreads (seen: zxing-cpp reading an EAN-13 as one UPC-A with both binarizers), so those are
    one view; zbar and zxing-cpp, or one decoder at 1x and at 2x or half size, are two.
    """
    decoder, *steps = reader.split("/")
    scale = 1.0
    for step in steps:
        scale *= 2.0 if step.endswith("2x") else 0.5 if step.endswith("half") else 1.0
    return f"{decoder}@{scale:g}"


@dataclass(slots=True)
class _Track:
    symbology: str
    aim: str | None
    frames: int
    last_seen: float
    views: set[str] = field(default_factory=set)
    box: Box | None = None
    addons: dict[str, set[str]] = field(default_factory=dict)   # add-on -> the views that read it
    reported: bool = False
    held: bool = False


def overlap(a: Box | None, b: Box | None) -> bool:
    """Whether two read regions may be one printed code; an unknown region may be anywhere.

    A linear code's region can be a single scan line, so each box is first grown by a third of its width
    up and down.
    """
    if a is None or b is None:
        return True
    ga, gb = (a[3] - a[1] < (a[2] - a[0]) // 3), (b[3] - b[1] < (b[2] - b[0]) // 3)
    pa, pb = (a[2] - a[0]) // 3 if ga else 0, (b[2] - b[0]) // 3 if gb else 0
    return a[0] < b[2] and b[0] < a[2] and a[1] - pa < b[3] + pb and b[1] - pb < a[3] + pa


@dataclass(slots=True)
class ConfirmTracker:
    confirm_frames: int = 2
    rearm_s: float = 1.0
    views_needed: int = 2      # 1 for a single decoder (`decoder = "zbar"`), which has one view
    burst_s: float = 0.3
    addon_wait: int = 4        # frames a code waits for its add-on's second view before it goes without it
    guard: bool = True         # False: frames alone, as before the misread rules (the bench's comparison)
    unconfirmed: int = 0
    suppressed: int = 0
    _tracks: dict[bytes, _Track] = field(default_factory=dict)

    def frame(self, codes: Iterable[Decoded], now: float) -> list[Decoded]:
        """Codes decoded in the frame captured at `now`; returns those to report now (with their add-on)."""
        self._expire(now)
        seen: dict[bytes, _Track] = {}
        for d in codes:
            track = self._tracks.get(d.data)
            if track is None:
                track = self._tracks[d.data] = _Track(d.symbology, d.aim, 0, now)
            if d.data not in seen:
                track.frames += 1
                seen[d.data] = track
            track.last_seen = now
            track.views.add(view_of(d.decoder))
            if d.box is not None:
                track.box = d.box
            if d.addon:
                track.addons.setdefault(d.addon, set()).add(view_of(d.decoder))
            if d.aim and not track.aim:
                track.symbology, track.aim = d.symbology, d.aim   # prefer the reading that names GS1 content
        out = []
        for data, track in seen.items():
            if track.reported or track.frames < self.confirm_frames:
                continue
            if self.guard and self._doubtful(data, track, now):
                track.held = True
                continue
            if track.addons and self._addon(track) is None and track.frames < self.confirm_frames + self.addon_wait:
                continue   # an add-on was seen: give the other views a few frames to agree on it
            track.reported = True
            out.append(Decoded(track.symbology, data, track.aim, addon=self._addon(track)))
        return out

    def _addon(self, track: _Track) -> str | None:
        """The add-on, if enough views read it and no view read a different one.

        An add-on's own check is weak (a 2-digit one has none) and zxing-cpp can repeat one wrong digit in
        several views, so any disagreement drops it; the code is then reported without it (the GTIN is the
        product key either way).
        """
        if not self.guard:
            return next(iter(track.addons), None)
        if len(track.addons) != 1:
            return None
        addon, views = next(iter(track.addons.items()))
        return addon if len(views) >= self.views_needed else None

    def _doubtful(self, data: bytes, track: _Track, now: float) -> bool:
        if track.symbology not in WEAK_CHECK:
            return False
        if len(track.views) < self.views_needed:
            return True
        for other_data, other in self._tracks.items():
            recent = other.last_seen == now or (not other.reported and now - other.last_seen <= self.burst_s)
            if other_data == data or not recent or not overlap(track.box, other.box):
                continue
            if track.symbology in SHORT and other.symbology in LINEAR - SHORT:
                return True   # an EAN-8 / UPC-E pattern inside a longer code's bars
            if other.symbology in SHORT and track.symbology in LINEAR - SHORT:
                continue      # that pattern does not hold back the longer code around it
            if other.symbology in WEAK_CHECK and len(other.views) >= len(track.views):
                return True
        return False

    def _expire(self, now: float) -> None:
        for data in [d for d, t in self._tracks.items() if now - t.last_seen > self.rearm_s]:
            track = self._tracks.pop(data)
            if not track.reported:
                if track.held:
                    self.suppressed += 1
                else:
                    self.unconfirmed += 1

    @property
    def in_view(self) -> int:
        return len(self._tracks)
