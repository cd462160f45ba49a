"""One connection's socket on the loop: a late close of the previous connection never silences the next one."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from agent.sync.loop_io import LoopIO
from simulators.doubles.clock import FakeClock
from simulators.doubles.waiting import wait_until


class PahoLike:
    """What LoopIO calls on a paho client: reads and writes go through `_sock`; callbacks are set on it."""

    def __init__(self) -> None:
        self._sock: Any = None
        self.reads = 0
        self.on_socket_close: Any = None
        self.on_socket_register_write: Any = None

    def want_write(self) -> bool:
        return False

    def loop_read(self) -> None:
        self.reads += 1
        self._sock.recv(4096)

    def loop_write(self) -> None:
        pass


async def test_a_late_close_of_the_old_connection_leaves_the_new_one_served() -> None:
    loop = asyncio.get_running_loop()
    old_sock, old_peer = socket.socketpair()
    old_client = PahoLike()
    old = LoopIO(loop, old_client, old_sock, FakeClock())
    old.attach()
    fd = old_sock.fileno()
    old.close()                                 # the session ends: its socket closes, its fd number is free
    new_sock, new_peer = socket.socketpair()
    try:
        assert new_sock.fileno() == fd, "the kernel reuses the lowest free fd: the case this test is about"
        new_client = PahoLike()
        new = LoopIO(loop, new_client, new_sock, FakeClock())
        new.attach()
        old.release()                           # paho reports the old socket closed only now
        new_peer.send(b"PUBACK bytes")
        await wait_until(lambda: new_client.reads > 0, 5, 0.01)
        assert not new.lost.done()
        new.close()
    finally:
        for s in (old_peer, new_sock, new_peer):
            s.close()
