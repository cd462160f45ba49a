"""One MQTT connection's socket on the asyncio loop: paho reads and writes through a buffer, on the loop thread.

Why not paho's own thread or loop_forever: every callback then runs on the loop thread (the relay needs no
locks), and the packets paho queues in one loop turn leave in one write in the next turn. The selector
watches for writable only while the socket is full, instead of a writer added and removed per batch (two
epoll_ctl calls and a wake-up each); a full socket that stayed registered made the loop spin at idle. The
paho client is duck-typed here (`loop_read`, `loop_write`, `want_write`, `_sock`, the socket callbacks), so
this module does not import paho: agent/sync/mqtt/ stays the only one that does.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from agent.clock import Clock
from agent.sync.buffered_socket import BufferedSocket


class LoopIO:
    """The socket of one connected paho client, served by the event loop until `close()`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, client: Any, sock: Any, clock: Clock) -> None:
        self.loop, self.client, self.sock, self.clock = loop, client, sock, clock
        self.fd = sock.fileno()
        self.io = BufferedSocket(sock)
        self.lost: asyncio.Future[str] = loop.create_future()
        self.last_in = clock.monotonic()
        self._write_soon = False    # a write is scheduled for the next loop turn
        self._write_waits = False   # the socket was full: the selector watches for writable
        self._released = False

    def attach(self) -> None:
        client = self.client
        client._sock = self.io   # paho 2.x reads and writes through this attribute; the CONNECT already went
        self.loop.add_reader(self.fd, self.readable)
        client.on_socket_register_write = lambda c, u, s: self.write_next_turn()
        client.on_socket_close = lambda c, u, s: self.release()
        if client.want_write():
            self.write_next_turn()

    def write_next_turn(self) -> None:
        if not self._write_soon:
            self._write_soon = True
            self.loop.call_soon(self.writable)

    def readable(self) -> None:
        self.last_in = self.clock.monotonic()
        self.client.loop_read()
        if not self.lost.done() and self.io.pending():   # bytes read ahead (or TLS records) the selector won't see
            self.loop.call_soon(self.readable)

    def writable(self) -> None:
        self._write_soon = False
        if self.lost.done():
            return
        self.client.loop_write()   # paho's queued packets -> the buffer
        try:
            drained = self.io.flush()
        except OSError as exc:
            self.mark_lost(f"send failed: {exc}")
            return
        if drained == self._write_waits:   # the socket filled up, or has room again
            if drained:
                self.loop.remove_writer(self.fd)
            else:
                self.loop.add_writer(self.fd, self.writable)
            self._write_waits = not drained

    def mark_lost(self, why: str) -> None:
        if not self.lost.done():
            self.lost.set_result(why)

    def release(self) -> None:
        """Stop serving the socket, once. Why once: the old client may report its socket closed after the next
        connection got the same fd number, and removing the reader then left the new connection deaf."""
        if self._released:
            return
        self._released = True
        self.client.on_socket_close = None
        self.client.on_socket_register_write = None
        self.loop.remove_reader(self.fd)
        self.loop.remove_writer(self.fd)
        self._write_waits = False
        self.mark_lost("socket closed")

    def silent_s(self) -> float:
        """How long nothing at all came from the broker."""
        return self.clock.monotonic() - self.last_in

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.release()
        with contextlib.suppress(OSError, ValueError):
            self.sock.close()
