"""USB-serial and RS-232 scanners: pyserial opens the port, the event loop reads its fd, the framer cuts codes.

The port is named by a stable path (`/dev/serial/by-id/...`) that is resolved again on every open, so a
replugged scanner that the kernel renamed from ttyACM0 to ttyACM1 is found by the supervisor's next attempt.
"""

from __future__ import annotations

import asyncio
import errno
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any, Self

from drivers.aim import split_aim
from drivers.base import DeviceUnavailable, DriverOptionError, ScanEvent, UnavailableReason, cannot_open
from drivers.events import COMM_ERROR, FAILED, ScanQueue, snapshot
from drivers.framing import Framer, FramingOptions, parse_terminator
from drivers.options import Options

BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)
PARITIES = {"none": "N", "even": "E", "odd": "O", "mark": "M", "space": "S"}
_UNPLUG_ERRNOS = {errno.EIO, errno.ENODEV, errno.ENXIO, errno.EBADF}


class SerialScanner:
    """One serial scanner; `async with` opens it, `scans()` yields codes until it is unplugged."""

    def __init__(self, name: str, options: Mapping[str, object]) -> None:
        o = Options("serial", options)
        self.name = name
        self.port = o.text("port")
        self.baudrate = o.integer("baudrate", 9600, 50, 4_000_000)
        self.parity = PARITIES[o.choice("parity", "none", PARITIES)]
        self.stopbits = o.number("stopbits", 1, 1, 2)
        self.bytesize = o.integer("bytesize", 8, 5, 8)
        self.framing = FramingOptions(
            terminator=parse_terminator(o.text("terminator", "\r")), stx_etx=o.flag("stx_etx", False),
            prefix=o.text("prefix", "").encode("latin-1"), suffix=o.text("suffix", "").encode("latin-1"),
            max_length=o.integer("max_length", 4096, 16, 65536),
            frame_timeout_s=o.integer("frame_timeout_ms", 500, 10, 60_000) / 1000)
        self.bounce_s = o.integer("bounce_ms", 300, 0, 60_000) / 1000
        o.finish()
        if self.stopbits not in (1, 1.5, 2):
            raise DriverOptionError("stopbits", f"{self.stopbits} is not a stop-bit setting. Fix: use 1, 1.5 or 2")
        if not self.framing.terminator and not self.framing.stx_etx:
            raise DriverOptionError("terminator", "no terminator and no STX/ETX: codes could never end. "
                                    "Fix: set terminator = \"cr\" or stx_etx = true")
        self._counters: Counter[str] = Counter()
        self._framer = Framer(self.framing)
        self._serial: Any = None
        self._queue: ScanQueue | None = None
        self._resolved = ""
        self._expiry: asyncio.TimerHandle | None = None

    async def __aenter__(self) -> Self:
        import serial  # lazy: only boxes with a serial scanner need pyserial loaded

        self._resolved = os.path.realpath(self.port)  # noqa: ASYNC240 - a by-id symlink may point elsewhere since last time
        try:
            # to_thread: opening a wedged USB-serial adapter can block for seconds.
            self._serial = await asyncio.to_thread(
                serial.Serial, self._resolved, self.baudrate, bytesize=self.bytesize, parity=self.parity,
                stopbits=self.stopbits, timeout=0, exclusive=True)
        except (serial.SerialException, OSError) as exc:
            raise _open_error(self.name, self.port, exc) from exc
        self._framer = Framer(self.framing, self._framer.counters)
        self._queue = ScanQueue(self.name, self._counters, bounce_s=self.bounce_s)
        asyncio.get_running_loop().add_reader(self._serial.fileno(), self._readable)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        if self._serial is not None:
            asyncio.get_running_loop().remove_reader(self._serial.fileno())
            try:
                self._serial.close()
            except OSError:
                pass   # closing an unplugged port may fail; it is gone either way
            self._serial = None

    def scans(self) -> AsyncIterator[ScanEvent]:
        if self._queue is None:
            raise RuntimeError("open the scanner first: async with SerialScanner(...) as scanner")
        return self._queue.events()

    def counters(self) -> Mapping[str, int]:
        c = self._framer.counters
        return snapshot(self._counters, {FAILED: c.too_long + c.stale + c.garbage,
                                         "frame_too_long_count": c.too_long, "frame_stale_count": c.stale,
                                         "frame_garbage_count": c.garbage})

    def details(self) -> Mapping[str, object]:
        return {"port": self.port, "resolved_port": self._resolved}

    def _readable(self) -> None:
        assert self._queue is not None and self._serial is not None
        try:
            data = os.read(self._serial.fileno(), 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            return self._unplugged(exc)
        if not data:
            return self._unplugged(None)
        now = time.monotonic()
        for frame in self._framer.feed(data, now):
            aim, payload = split_aim(frame.payload)
            self._queue.offer(payload, frame.raw, aim=aim, at=now)
        self._schedule_expiry()

    def _schedule_expiry(self) -> None:
        """Count a stale partial line when it goes stale, not only when the next byte arrives."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if self._framer.pending:
            loop = asyncio.get_running_loop()
            self._expiry = loop.call_later(self.framing.frame_timeout_s + 0.01,
                                           lambda: self._framer.expire(time.monotonic()))

    def _unplugged(self, exc: OSError | None) -> None:
        assert self._queue is not None and self._serial is not None
        if exc is not None and exc.errno not in _UNPLUG_ERRNOS:
            self._counters[COMM_ERROR] += 1
        asyncio.get_running_loop().remove_reader(self._serial.fileno())
        cause = os.strerror(exc.errno) if exc is not None and exc.errno else "end of file"
        self._queue.fail(DeviceUnavailable(UnavailableReason.UNPLUGGED,
                                           f"scanner {self.name!r} at {self.port} went away ({cause}). "
                                           "Fix: plug it back in; the agent reopens it by itself"))


def _open_error(name: str, port: str, exc: Exception) -> DeviceUnavailable:
    return cannot_open(f"scanner {name!r}", port, exc, thing="port")
