"""`/v1/events` under abuse, on a real aiohttp server on 127.0.0.1: a client that never reads is dropped and
costs a bounded amount meanwhile, a client that sends garbage or a huge message is closed, 100 clients at once
all get every event, and the 129th is refused; the lane's publish never waits for any of them."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from collections.abc import AsyncIterator

import aiohttp
import psutil
import pytest

from agent.api.events import EventHub
from agent.api.fanout import MAX_BUFFERED
from agent.api.server import ApiServer, SocketLimits
from agent.api.settings import ApiSection
from agent.health import HealthRegistry
from simulators.doubles.ports import free_port
from simulators.doubles.waiting import wait_until

LIMITS = SocketLimits(max_clients=128, send_timeout_s=1.0, max_msg_size=4096)


class Served:
    def __init__(self, server: ApiServer, port: int) -> None:
        self.server, self.port, self.hub, self.fanout = server, port, server.hub, server.fanout

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/events"

    def counter(self, name: str) -> int:
        return self.server.health.component("api").counters.get(name, 0)


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    port = free_port()
    server = ApiServer(ApiSection(listen=f"127.0.0.1:{port}"), HealthRegistry("t"), EventHub(), LIMITS)
    await server.start()
    try:
        yield Served(server, port)
    finally:
        await server.stop()


async def raw_client(port: int, receive_buffer: int = 4096) -> socket.socket:
    """A WebSocket handshake by hand on a socket with a small receive buffer; after the 101 the test decides
    whether it ever reads again."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    await loop.sock_sendall(sock, (f"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                                   "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = await asyncio.wait_for(loop.sock_recv(sock, 1), 5)
        assert chunk, f"closed during the handshake: {head!r}"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


async def test_a_client_that_never_reads_is_dropped_and_costs_a_bounded_amount_meanwhile(served: Served) -> None:
    fanout = served.fanout
    silent = await raw_client(served.port)
    await wait_until(lambda: fanout.clients == 1, 5)
    process = psutil.Process()
    before = process.memory_info().rss
    event = {"type": "bench", "pad": "x" * 8192}
    peak, published = before, 0
    while fanout.clients and published < 20_000:   # up to ~160 MB offered to a client that takes none of it
        for _ in range(100):
            served.hub.publish(event)
        published += 100
        await wait_until(lambda: fanout.pending == 0, 5)
        assert all(size <= MAX_BUFFERED + 9000 for size in fanout.buffered()), fanout.buffered()
        peak = max(peak, process.memory_info().rss)
    await wait_until(lambda: fanout.clients == 0, 5)       # cut off send_timeout_s after it stalled
    silent.close()
    assert served.counter("events_clients_dropped") == 1 and fanout.dropped > 0
    assert peak - before < 16 * 2**20, f"grew {(peak - before) / 2**20:.1f} MB; {published} events published"


async def test_garbage_and_an_oversized_message_close_the_socket(served: Served) -> None:
    fanout = served.fanout
    loop = asyncio.get_running_loop()
    garbage = await raw_client(served.port)
    await wait_until(lambda: fanout.clients == 1, 5)
    await loop.sock_sendall(garbage, os.urandom(2048))     # not even a frame: unmasked, bad opcodes
    await wait_until(lambda: fanout.clients == 0, 5)
    garbage.close()
    async with aiohttp.ClientSession() as http, http.ws_connect(served.url) as ws:
        await wait_until(lambda: fanout.clients == 1, 5)
        await ws.send_str("x" * (LIMITS.max_msg_size + 1))
        closed = await asyncio.wait_for(ws.receive(), 5)
        assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
        assert ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    await wait_until(lambda: fanout.clients == 0, 5)


async def test_a_hundred_clients_at_once_all_get_every_event_and_the_limit_is_said(served: Served) -> None:
    fanout = served.fanout
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        clients = await asyncio.gather(*(http.ws_connect(served.url) for _ in range(100)))
        await wait_until(lambda: fanout.clients == 100, 10)
        for n in range(5):
            served.hub.publish({"type": "scan", "seq": n})
        received = await asyncio.gather(*(asyncio.wait_for(_seqs(ws, 5), 10) for ws in clients))
        assert all(seqs == [0, 1, 2, 3, 4] for seqs in received)
        more = await asyncio.gather(*(http.ws_connect(served.url) for _ in range(28)))
        async with http.get(served.url, headers={"Upgrade": "websocket", "Connection": "Upgrade",
                                                 "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                                                 "Sec-WebSocket-Version": "13"}) as refused:
            assert refused.status == 503 and "listening already" in (await refused.json())["detail"]
        await asyncio.gather(*(ws.close() for ws in [*clients, *more]))
    await wait_until(lambda: fanout.clients == 0, 10)
    assert served.counter("events_clients_refused") == 1


async def _seqs(ws: aiohttp.ClientWebSocketResponse, n: int) -> list[int]:
    seqs: list[int] = []
    while len(seqs) < n:
        seqs.append((await ws.receive_json())["seq"])
    return seqs


async def test_events_wait_for_the_scan_path_but_never_starve(served: Served) -> None:
    fanout, busy = served.fanout, [True]
    fanout.hold = lambda: busy[0]
    async with aiohttp.ClientSession() as http, http.ws_connect(served.url) as ws:
        await wait_until(lambda: fanout.clients == 1, 5)
        served.hub.publish({"type": "scan", "seq": 0})
        await wait_until(lambda: fanout.pending == 0, 5)      # held past MAX_HOLD_S: written anyway
        assert (await asyncio.wait_for(ws.receive_json(), 5))["seq"] == 0
        served.hub.publish({"type": "scan", "seq": 1})
        busy[0] = False
        fanout.resume()                                       # the pipeline's on_idle
        assert (await asyncio.wait_for(ws.receive_json(), 5))["seq"] == 1
