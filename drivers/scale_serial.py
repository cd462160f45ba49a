"""Serial scales: pyserial opens the port, the event loop reads its fd, a request is answered by one frame.

Every serial scale protocol here is request and reply: the driver sends a few bytes, the scale answers one
frame. A protocol module supplies its request, a `split` that cuts frames out of the bytes received (anything
between frames is line noise: skipped and counted) and a `decode` that raises ValueError on a garbled frame.
Bytes left over from an earlier, abandoned request are dropped before each new one, so a late reply is never
taken for the answer to the next request.

The port is named by a stable path (`/dev/serial/by-id/...`) resolved again on every open, so a replugged scale
the kernel renamed is found by the supervisor's next attempt.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from drivers.base import DeviceUnavailable
from drivers.options import Options
from drivers.scale_poll import PolledScale, cannot_open, not_open, went_away
from drivers.scales import Reading

PARITIES = {"none": "N", "even": "E", "odd": "O"}


class SerialScale(PolledScale):
    """A request/reply scale on a serial port; subclasses give `split`, `decode` and the request(s)."""

    request = b"W"
    default_parity, default_bytesize = "none", 8

    def __init__(self, o: Options) -> None:
        self.port = o.text("port")
        self.baudrate = o.integer("baudrate", 9600, 1200, 115_200)
        self.parity = PARITIES[o.choice("parity", self.default_parity, PARITIES)]
        self.bytesize = o.integer("bytesize", self.default_bytesize, 7, 8)
        super().__init__(o)
        o.finish()
        self._serial: Any = None
        self._buffer = b""
        self._arrived = asyncio.Event()
        self._failure: DeviceUnavailable | None = None
        self._asking = asyncio.Lock()           # one request in flight: a reply belongs to its request

    def split(self, buffer: bytes) -> tuple[list[bytes], bytes, int]:
        raise NotImplementedError

    def decode(self, frame: bytes, received_at: float) -> Reading:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        import serial  # lazy: only lanes with a serial scale load pyserial's port code

        resolved = os.path.realpath(self.port)  # noqa: ASYNC240 - a by-id link may point elsewhere since last time
        try:
            # to_thread: opening a wedged USB-serial adapter can block for seconds.
            self._serial = await asyncio.to_thread(serial.Serial, resolved, self.baudrate, bytesize=self.bytesize,
                                                   parity=self.parity, stopbits=1, timeout=0, exclusive=True)
        except (serial.SerialException, OSError) as exc:
            raise cannot_open(self.name, self.port, exc) from exc
        self._failure = None
        self._buffer = b""
        asyncio.get_running_loop().add_reader(self._serial.fileno(), self._readable)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._close()

    async def _poll(self) -> Reading:
        frame, at = await self.ask(self.request)
        return self.decode(frame, at)

    async def ask(self, request: bytes, accept: Callable[[bytes], bool] | None = None) -> tuple[bytes, float]:
        """Send `request`, return the first frame that decodes (or that `accept` takes) and when it came."""
        async with self._asking:
            self._check()
            if self._buffer:
                self.garbled(1)                  # a late or unasked-for reply: not the answer to this request
                self._buffer = b""
            self._write(request)
            deadline = time.monotonic() + self.reply_timeout_s
            while True:
                frames, self._buffer, skipped = self.split(self._buffer)
                if skipped:
                    self.garbled(1)
                at = time.monotonic()
                for frame in frames:
                    if accept(frame) if accept is not None else self._decodes(frame, at):
                        self._buffer = b""
                        return frame, at
                    self.garbled(1)
                self._arrived.clear()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                try:
                    async with asyncio.timeout(left):
                        await self._arrived.wait()
                except TimeoutError:
                    pass
                self._check()

    def _decodes(self, frame: bytes, at: float) -> bool:
        try:
            self.decode(frame, at)
        except ValueError:
            return False
        return True

    def _check(self) -> None:
        if self._serial is None:
            raise self._failure or not_open(self.name)

    def _write(self, data: bytes) -> None:
        try:
            os.write(self._serial.fileno(), data)   # a few bytes into the tty's buffer: never waits for the wire
        except OSError as exc:
            self._fail(exc)

    def _readable(self) -> None:
        error: OSError | None = None
        try:
            data = os.read(self._serial.fileno(), 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            data, error = b"", exc
        if not data:
            try:
                self._fail(error)
            except DeviceUnavailable:
                pass                                # kept in _failure; the waiting request raises it
            return
        self._buffer += data
        self._arrived.set()

    def _fail(self, exc: OSError | None) -> None:
        self._failure = went_away(self.name, self.port, exc)
        self._close()
        self._arrived.set()
        raise self._failure

    def _close(self) -> None:
        if self._serial is not None:
            asyncio.get_running_loop().remove_reader(self._serial.fileno())
            try:
                self._serial.close()     # closing an unplugged port may fail; it is gone either way
            except OSError:
                pass
            self._serial = None
