"""A fault-injecting TCP proxy (asyncio) between the agent and the broker, for partition and slow-link tests.

Faults: `blackhole` (bytes are swallowed both ways, the sockets stay open: a half-open link), `latency_s`
(each chunk delayed), `slice` (bytes forwarded one at a time), `reset()` (every connection closed with
RST, possibly mid-packet), `refuse` (new connections closed at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct


class FaultProxy:
    """Listens on 127.0.0.1:`port` and forwards to the broker, with faults switched on at will."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.blackhole = False
        self.latency_s = 0.0
        self.slice = False
        self.refuse = False
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.reset()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def reset(self) -> None:
        """Close every connection with an RST (SO_LINGER 0), as a crashed NAT or router would."""
        for writer in list(self._writers):
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        self._writers.clear()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self.refuse:
            client_w.transport.abort()
            return
        try:
            broker_r, broker_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.transport.abort()
            return
        self.connections += 1
        self._writers.update((client_w, broker_w))
        pumps = [asyncio.create_task(self._pump(client_r, broker_w)),
                 asyncio.create_task(self._pump(broker_r, client_w))]
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for task in pumps:
            task.cancel()
        for writer in (client_w, broker_w):
            writer.transport.abort()
            self._writers.discard(writer)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                return
            if self.blackhole:
                continue
            if self.latency_s:   # pipelined: each chunk leaves latency_s after it came, in order
                asyncio.get_running_loop().call_later(self.latency_s, writer.write, data)
                continue
            if self.slice:
                for i in range(len(data)):
                    writer.write(data[i:i + 1])
                    await writer.drain()
            else:
                writer.write(data)
                await writer.drain()
