"""The buffered socket paho reads and writes through: real socket pairs, partial reads, a full send buffer."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from agent.sync.buffered_socket import BufferedSocket


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    left, right = socket.socketpair()
    left.setblocking(False)
    try:
        yield left, right
    finally:
        left.close()
        right.close()


def test_small_reads_are_served_from_one_large_read(pair: tuple[socket.socket, socket.socket]) -> None:
    left, right = pair
    io = BufferedSocket(left)
    right.sendall(b"\x40\x02\x00\x01" * 3)   # three PUBACK packets, read the way paho reads them
    assert io.recv(1) == b"\x40"
    assert io.pending() == 11, "the rest is buffered here, where the selector cannot see it"
    right.sendall(b"late")
    assert io.recv(1) == b"\x02" and io.recv(2) == b"\x00\x01"
    assert io.recv(100) == b"\x40\x02\x00\x01" * 2   # never more than was read ahead in one go
    assert io.recv(100) == b"late"
    with pytest.raises(BlockingIOError):
        io.recv(1)
    right.close()
    assert io.recv(1) == b"", "end of stream reads as b'' as on the socket itself"


def test_sends_wait_for_flush_and_a_full_socket_keeps_the_rest(pair: tuple[socket.socket, socket.socket]) -> None:
    left, right = pair
    io = BufferedSocket(left)
    assert io.send(b"one") == 3 and io.send(b"two") == 3
    right.setblocking(False)
    with pytest.raises(BlockingIOError):
        right.recv(10)   # nothing left before the flush
    assert io.flush() is True
    assert right.recv(10) == b"onetwo"

    big = b"x" * (8 << 20)   # more than the kernel buffers hold
    io.send(big)
    assert io.flush() is False, "a full socket is reported, not dropped"
    received = bytearray()
    while True:
        try:
            chunk = right.recv(1 << 20)
        except BlockingIOError:
            if io.flush():
                break
            continue
        received += chunk
    while len(received) < len(big):
        received += right.recv(1 << 20)
    assert bytes(received) == big


def test_other_attributes_are_the_sockets(pair: tuple[socket.socket, socket.socket]) -> None:
    left, _ = pair
    assert BufferedSocket(left).fileno() == left.fileno()
