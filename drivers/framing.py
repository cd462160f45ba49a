"""Pure framers: a byte stream from a scanner into whole codes, never buffering without bound.

A scanner ends each code with a terminator (CR, LF, CRLF or any configured byte string), optionally wraps it in
STX ... ETX, and may add a configured prefix and suffix. Bytes that never see a terminator (line noise, a
half-sent code from an unplug) are dropped when the line grows past `max_length` or goes quiet for longer than
`frame_timeout_s`; each drop is counted so `/v1/health` shows a noisy cable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STX, ETX = b"\x02", b"\x03"
# C0 controls that never belong in a scan; GS/RS/FS/US/EOT are kept (GS1 FNC1, ISO/IEC 15434 envelopes).
_BAD_CONTROLS = frozenset(set(range(0x20)) - {0x04, 0x09, 0x1C, 0x1D, 0x1E, 0x1F}) | {0x7F}

NAMED_TERMINATORS = {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n", "none": b""}


def parse_terminator(value: str) -> bytes:
    """`"cr"`, `"lf"`, `"crlf"`, `"none"` or the literal bytes (`"\\r"`, `"\\x03"`, `"#END"`)."""
    named = NAMED_TERMINATORS.get(value.lower())
    return named if named is not None else value.encode("latin-1")


@dataclass(frozen=True, slots=True)
class FramingOptions:
    terminator: bytes = b"\r"
    stx_etx: bool = False
    prefix: bytes = b""
    suffix: bytes = b""
    max_length: int = 4096
    frame_timeout_s: float = 0.5


@dataclass(slots=True)
class FramingCounters:
    frames: int = 0
    too_long: int = 0       # a line past max_length: dropped up to its terminator
    stale: int = 0          # a partial line older than frame_timeout_s: dropped
    garbage: int = 0        # bytes outside STX..ETX, or a frame with control bytes that no scanner sends


@dataclass(frozen=True, slots=True)
class Frame:
    payload: bytes          # prefix, suffix and framing removed
    raw: bytes              # the bytes of this frame as they arrived, terminator included


@dataclass(slots=True)
class Framer:
    """Feed bytes as they arrive, get whole frames back; memory never exceeds about `max_length` bytes."""

    options: FramingOptions = field(default_factory=FramingOptions)
    counters: FramingCounters = field(default_factory=FramingCounters)
    _buf: bytearray = field(default_factory=bytearray)
    _last_byte_at: float = 0.0
    _discarding: bool = False

    @property
    def pending(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes, now: float) -> list[Frame]:
        """Add `data` received at monotonic time `now`; return the frames it completes."""
        self.expire(now)
        if data:
            self._last_byte_at = now
        frames: list[Frame] = []
        for byte in data:
            frame = self._byte(byte)
            if frame is not None:
                frames.append(frame)
        return frames

    def expire(self, now: float) -> bool:
        """Drop a partial line that has waited longer than the timeout; True when one was dropped."""
        if self._buf and now - self._last_byte_at > self.options.frame_timeout_s:
            self._buf.clear()
            self._discarding = False
            self.counters.stale += 1
            return True
        return False

    def _byte(self, byte: int) -> Frame | None:
        if self.options.stx_etx:
            return self._byte_stx_etx(byte)
        return self._byte_terminated(byte)

    def _byte_terminated(self, byte: int) -> Frame | None:
        term = self.options.terminator
        self._buf.append(byte)
        if term in (b"\r", b"\n", b"\r\n"):
            # Any of CR/LF ends a line, and empty lines are skipped: CRLF never gives a second, empty scan.
            if byte in (0x0D, 0x0A):
                return self._complete(len(self._buf) - 1)
        elif term and self._buf.endswith(term):
            return self._complete(len(self._buf) - len(term))
        self._check_length()
        return None

    def _byte_stx_etx(self, byte: int) -> Frame | None:
        if not self._buf:
            if byte == STX[0]:
                self._buf.append(byte)
            elif byte not in (0x0D, 0x0A):   # a terminator after ETX is expected, anything else is noise
                self.counters.garbage += 1
            return None
        self._buf.append(byte)
        if byte == ETX[0]:
            return self._complete(len(self._buf) - 1, start=1)
        self._check_length()
        return None

    def _check_length(self) -> None:
        if len(self._buf) > self.options.max_length:
            if not self._discarding:
                self.counters.too_long += 1
            self._discarding = True
            self._buf.clear()

    def _complete(self, end: int, start: int = 0) -> Frame | None:
        raw = bytes(self._buf)
        payload = raw[start:end]
        self._buf.clear()
        if self._discarding:
            self._discarding = False
            return None
        if not payload:
            return None
        payload = _strip(payload, self.options.prefix, self.options.suffix)
        if not payload or any(b in _BAD_CONTROLS for b in payload):
            self.counters.garbage += 1
            return None
        self.counters.frames += 1
        return Frame(payload=payload, raw=raw)


def _strip(payload: bytes, prefix: bytes, suffix: bytes) -> bytes:
    if prefix and payload.startswith(prefix):
        payload = payload[len(prefix):]
    if suffix and payload.endswith(suffix):
        payload = payload[: -len(suffix)]
    return payload
