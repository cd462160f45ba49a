"""Live events to every `/v1/events` WebSocket client: one frame per event, written to each socket in slices.

Why not a task and a queue per client (the first design): with 100 clients each event woke 100 tasks, each
building its own frame and writing it, all on the loop the scan path shares; the scan path's p99 rose several
times over (bench/websocket_clients.py). Here an event is serialised and framed once (a server's frames are
not masked, RFC 6455 §5.1, and compression is off for this route, so every client gets the same bytes), and
the writes run in slices of `SLICE` sockets per loop turn, and not at all while a scan is on its way from the
scanner to its commit (`hold`, up to MAX_HOLD_S), so the screens use the loop's idle time, however many listen.

Bounded per client: a client whose socket has more than `MAX_BUFFERED` bytes waiting loses events (counted)
instead of buffering more, and one stalled for `send_timeout_s` is cut off; a kiosk that reconnects reads the
whole session again, so nothing is lost for it.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

SLICE = 16                      # socket writes per loop turn
HOLD_RECHECK_S = 0.001          # while the scan path is busy, look again this soon
MAX_HOLD_S = 0.05               # but never keep the screens waiting longer than this
MAX_BUFFERED = 256 * 1024       # bytes waiting in one client's transport before it loses events
MAX_PENDING = 256               # events framed and not yet written to every client


def text_frame(text: str) -> bytes:
    """One unmasked, final text frame (RFC 6455 §5.2)."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


@dataclass(eq=False)
class Listener:
    transport: asyncio.Transport
    ready: bool = False                     # the handshake is done: frames may be written
    early: list[bytes] = field(default_factory=list)   # frames published during the handshake
    stalled: bool = False
    dropped: int = 0


class Fanout:
    """The set of listening sockets and the frames on their way to them."""

    def __init__(self, send_timeout_s: float, on_drop: Callable[[], None] = lambda: None,
                 hold: Callable[[], bool] = lambda: False) -> None:
        self.send_timeout_s = send_timeout_s
        self.on_drop = on_drop              # a stalled client was cut off (the server counts it in health)
        self._listeners: set[Listener] = set()
        self._work: deque[tuple[bytes, list[Listener]]] = deque()
        self._scheduled = False
        self._held_since: float | None = None
        self._recheck: asyncio.TimerHandle | None = None    # the held step's next look (one chain of steps at most)
        self.dropped = 0                    # events a slow client lost
        # True while a scan is between its frame and its commit (wired by the composition root to the
        # pipeline): the writes wait for it, so the screens never take the scan path's turn on the loop.
        self.hold = hold

    @property
    def clients(self) -> int:
        return len(self._listeners)

    @property
    def pending(self) -> int:
        """Events framed and not yet written to every client they were published for."""
        return len(self._work)

    def buffered(self) -> list[int]:
        """Bytes waiting in each client's transport."""
        return [listener.transport.get_write_buffer_size() for listener in self._listeners]

    def add(self, transport: asyncio.Transport) -> Listener:
        """Listen from now on (before the handshake ends: an event published meanwhile is kept for it)."""
        listener = Listener(transport)
        self._listeners.add(listener)
        return listener

    def ready(self, listener: Listener) -> None:
        listener.ready = True
        for frame in listener.early:
            self._write(listener, frame)
        listener.early.clear()

    def remove(self, listener: Listener) -> None:
        self._listeners.discard(listener)

    def publish(self, text: str) -> None:
        """Frame once; the writes happen in slices on the next loop turns (never inside the caller's step)."""
        if not self._listeners:
            return
        if len(self._work) >= MAX_PENDING:
            _, skipped = self._work.popleft()
            self.dropped += len(skipped)
        self._work.append((text_frame(text), list(self._listeners)))
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._step)

    def resume(self) -> None:
        """The scan path is idle again: write what waited now, not at the next recheck."""
        if self._recheck is not None:
            self._recheck.cancel()
            self._recheck = None
            asyncio.get_running_loop().call_soon(self._step)

    def _step(self) -> None:
        loop = asyncio.get_running_loop()
        self._recheck = None
        if self.hold():
            self._held_since = self._held_since if self._held_since is not None else loop.time()
            if loop.time() - self._held_since < MAX_HOLD_S:
                self._recheck = loop.call_later(HOLD_RECHECK_S, self._step)
                return
        self._held_since = None
        budget = SLICE
        while self._work and budget:
            frame, targets = self._work[0]
            while targets and budget:
                self._write(targets.pop(), frame)
                budget -= 1
            if not targets:
                self._work.popleft()
        if self._work:
            loop.call_soon(self._step)
        else:
            self._scheduled = False

    def _write(self, listener: Listener, frame: bytes) -> None:
        if listener not in self._listeners or listener.transport.is_closing():
            return
        if not listener.ready:
            listener.early.append(frame)
            return
        if listener.transport.get_write_buffer_size() <= MAX_BUFFERED:
            listener.stalled = False
            listener.transport.write(frame)
            return
        listener.dropped += 1
        self.dropped += 1
        if not listener.stalled:
            listener.stalled = True
            asyncio.get_running_loop().call_later(self.send_timeout_s, self._check, listener)

    def _check(self, listener: Listener) -> None:
        """send_timeout_s after it stalled: a client that has still not taken its bytes is not reading."""
        if listener not in self._listeners or listener.transport.is_closing():
            return
        if listener.transport.get_write_buffer_size() <= MAX_BUFFERED:
            listener.stalled = False
            return
        logger.info("event stream client dropped: it took no event for %.1f s", self.send_timeout_s)
        self.remove(listener)
        listener.transport.abort()
        self.on_drop()
