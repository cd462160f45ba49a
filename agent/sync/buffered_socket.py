"""The MQTT socket as paho sees it: reads served from one large recv, writes of a loop turn sent together.

Why: paho reads each packet with several tiny `recv` calls (1 byte of command, 1 byte at a time of length,
then the rest) and sends each packet with its own `send`. During a drain that is four syscalls per PUBACK
and one per publish on the loop thread, and each syscall releases and re-takes the GIL. CPython restarts a
waiting thread's GIL timer every time the holder re-takes it (the convoy effect), so the SQLite writer
thread, which needs the GIL back after every statement, waited 10-25 ms to commit a sale during a drain.
Reading 64 KiB at a time and sending a turn's packets in one call removes most of those hand-overs, and the
syscalls' CPU with them.
"""

from __future__ import annotations

import ssl
from typing import Any

RECV_CHUNK = 65536


class BufferedSocket:
    """Wraps the connected (plain or TLS) socket paho reads and writes through.

    `pending()` counts what is buffered here too: the publisher keeps reading while it is non-zero, because
    the selector only wakes it for bytes still in the kernel.
    """

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._in = b""
        self._in_pos = 0
        self._out = bytearray()

    def recv(self, size: int) -> bytes:
        """Up to `size` bytes; a large read from the socket only when the buffer is empty.

        Raises BlockingIOError (or the TLS want-read) when nothing is buffered and nothing has arrived, and
        returns b"" at end of stream, as the socket would.
        """
        if self._in_pos >= len(self._in):
            data = self._sock.recv(RECV_CHUNK)
            if not data:
                return b""
            self._in, self._in_pos = data, 0
        start = self._in_pos
        self._in_pos = min(start + size, len(self._in))
        return self._in[start:self._in_pos]

    def pending(self) -> int:
        tls_pending = getattr(self._sock, "pending", None)
        return len(self._in) - self._in_pos + (tls_pending() if tls_pending is not None else 0)

    def send(self, data: bytes | bytearray | memoryview) -> int:
        """Buffer and report it all sent: `flush` writes it once paho has queued the whole turn."""
        self._out += data
        return len(data)

    def flush(self) -> bool:
        """Write what is buffered; True when all of it left, False when the socket is full (wait for writable).

        An OSError (reset, broken pipe) goes to the caller, which treats the connection as lost.
        """
        while self._out:
            try:
                sent = self._sock.send(self._out)
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                return False
            del self._out[:sent]
        return True

    def __getattr__(self, name: str) -> Any:   # fileno, close, setsockopt...: the real socket's
        return getattr(self._sock, name)
