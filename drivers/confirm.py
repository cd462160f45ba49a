"""Pure: which decoded codes to report from a stream of frames (agreement across frames, re-arm on leaving view).

Every decoder returns an occasional single-frame misread with a valid check digit, so a code is reported only
after `confirm_frames` frames saw it. A code held in view is reported once; it re-arms only after it has been
out of view for `rearm_s`. A code seen but never confirmed before it left is counted as unconfirmed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Track:
    symbology: str
    aim: str | None
    seen: int
    last_seen: float
    reported: bool = False


@dataclass(slots=True)
class ConfirmTracker:
    confirm_frames: int = 2
    rearm_s: float = 1.0
    unconfirmed: int = 0
    _tracks: dict[bytes, _Track] = field(default_factory=dict)

    def frame(self, codes: Iterable[tuple[str, bytes, str | None]], now: float) -> list[tuple[str, bytes, str | None]]:
        """Codes (symbology, data, aim) decoded in the frame captured at `now`; returns those to report now."""
        self._expire(now)
        out = []
        for symbology, data, aim in {c[1]: c for c in codes}.values():
            track = self._tracks.get(data)
            if track is None:
                track = self._tracks[data] = _Track(symbology, aim, 0, now)
            track.seen += 1
            track.last_seen = now
            if aim and not track.aim:
                track.symbology, track.aim = symbology, aim   # prefer the reading that names GS1 content
            if not track.reported and track.seen >= self.confirm_frames:
                track.reported = True
                out.append((track.symbology, data, track.aim))
        return out

    def _expire(self, now: float) -> None:
        for data in [d for d, t in self._tracks.items() if now - t.last_seen > self.rearm_s]:
            if not self._tracks.pop(data).reported:
                self.unconfirmed += 1

    @property
    def in_view(self) -> int:
        return len(self._tracks)
