"""The scan path's p99 with and without 100 idle WebSocket clients on `/v1/events`, in the same run.

    .venv/bin/python bench/websocket_clients.py [--scans 1200] [--rounds 12] [--clients 100]

The whole agent runs in this process on its real HTTP server (simulators/lanes/api.py) with a pty scanner.
The scan path is what the pipeline itself reports for each scan (`observe_scan`: from the frame the driver
read to the committed transaction). Three phases, the same scans in each (a new visit every 50), interleaved
in rounds (A, B, C, A, B, C, ...) so that the noise of a shared machine falls on all three alike:
  A. no WebSocket client (the baseline);
  B. 100 clients in another process, each reading every event (idle: they send nothing);
  C. the same 100, plus a client that never reads and one that sends garbage.
Prints p50 and p99 per phase, the ratios B/A and C/A, and what the clients received. The agent's RSS is
printed per phase too.
"""

from __future__ import annotations

import argparse
import base64
import os
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulators.cloud.store_catalog import BATTERIES, ONIGIRI, TEA  # noqa: E402
from simulators.cloud.tokens import TokenIssuer  # noqa: E402
from simulators.fixtures.shop import until  # noqa: E402
from simulators.lanes.api import ThreadedLane, settle  # noqa: E402

CODES = (TEA, ONIGIRI, BATTERIES)
VISIT = 50


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def run_scans(lane: ThreadedLane, scans: int, seconds: list[float], done: threading.Semaphore) -> list[float]:
    """`scans` scans through the pty, each waited for; the pipeline's own frame-to-commit seconds, in ms."""
    start = len(seconds)
    for n in range(scans):
        lane.scanner.scan(CODES[n % len(CODES)], aim="]E0")
        assert done.acquire(timeout=10), "a scan was not recorded"
        if n % VISIT == VISIT - 1:
            status, view = lane.api("POST", "/v1/session/pay", {"method": "simulated"})
            assert status == 200 and view["state"] == "paid", view
    return [s * 1000 for s in seconds[start:]]


def handshake(port: int, receive_buffer: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def clients(port: int, count: int) -> None:
    """The child process: on "open" `count` idle clients that read (and drop) every byte sent, on "close" none;
    answers each command with a line. Raw sockets and one selector: the clients' own parsing must not be what
    the scan path competes with."""
    selector = selectors.DefaultSelector()
    selector.register(sys.stdin, selectors.EVENT_READ)
    received: dict[socket.socket, int] = {}
    while True:
        for key, _ in selector.select():
            if key.fileobj is sys.stdin:
                command = sys.stdin.readline().strip()
                if command in ("close", ""):
                    got = sorted(received.values()) or [0]
                    for sock in received:
                        selector.unregister(sock)
                        sock.close()
                    received.clear()
                    print(f"closed; received min {got[0] / 1024:.0f} KB max {got[-1] / 1024:.0f} KB", flush=True)
                    if not command:
                        return
                else:
                    for _ in range(count):
                        sock = handshake(port)
                        sock.setblocking(False)
                        selector.register(sock, selectors.EVENT_READ)
                        received[sock] = 0
                    print("open", flush=True)
                continue
            sock = key.fileobj
            if isinstance(sock, socket.socket) and sock in received:      # not closed by "close" just now
                received[sock] += len(sock.recv(1 << 16))


def abusers(port: int) -> list[socket.socket]:
    """A client that never reads (tiny receive buffer) and one that sends garbage after its handshake."""
    made = []
    for garbage in (False, True):
        sock = handshake(port, receive_buffer=4096)
        if garbage:
            sock.sendall(os.urandom(4096))
        made.append(sock)
    return made


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scans", type=int, default=1200, help="per phase, over all rounds")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--serve-clients", metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_clients:
        # The clients would be other machines (or the kiosk's browser, at its own priority): here they share
        # this machine's cores, so they yield them to the agent.
        os.nice(19)
        clients(int(args.serve_clients), args.clients)
        return 0
    seconds: list[float] = []
    done = threading.Semaphore(0)
    process = psutil.Process()
    phases: dict[str, list[float]] = {"A": [], "B": [], "C": []}
    rss: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as work, ThreadedLane(Path(work), TokenIssuer()) as lane:
        observe = lane.lane.pipeline.observe_scan

        def observed(fields: Any, elapsed: float) -> None:
            observe(fields, elapsed)
            seconds.append(elapsed)
            done.release()

        lane.lane.pipeline.observe_scan = observed
        fanout = lane.lane.api.fanout
        child = subprocess.Popen([sys.executable, __file__, "--serve-clients", str(lane.port), "--clients",
                                  str(args.clients)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert child.stdin is not None and child.stdout is not None

        def command(line: str) -> str:
            assert child.stdin is not None and child.stdout is not None
            child.stdin.write(line + "\n")
            child.stdin.flush()
            return child.stdout.readline().strip()

        run_scans(lane, 50, seconds, done)                     # warm up: caches, the first visit
        got = ""
        per_round = max(VISIT, args.scans // args.rounds)
        for _ in range(args.rounds):                           # interleaved, so the machine's noise is shared
            settle(lane)
            phases["A"] += run_scans(lane, per_round, seconds, done)
            rss["A"] = process.memory_info().rss
            assert command("open") == "open"
            until(lambda: fanout.clients == args.clients, "the clients", 30)
            settle(lane)
            phases["B"] += run_scans(lane, per_round, seconds, done)
            rss["B"] = process.memory_info().rss
            bad = abusers(lane.port)
            settle(lane)
            phases["C"] += run_scans(lane, per_round, seconds, done)
            rss["C"] = process.memory_info().rss
            got = command("close")
            for sock in bad:
                sock.close()
            until(lambda: fanout.clients == 0, "the clients to leave", 30)
        dropped = lane.lane.health.component("api").counters.get("events_clients_dropped", 0)
        child.stdin.close()
        child.wait(30)
    return report(phases, rss, got, dropped, args)


def report(phases: dict[str, list[float]], rss: dict[str, int], got: str, dropped: int,
           args: argparse.Namespace) -> int:
    names = {"A": "no WebSocket client", "B": f"{args.clients} idle WebSocket clients",
             "C": f"{args.clients} idle + a silent and a garbage client"}
    for key, values in phases.items():
        print(f"{key}. scan path (frame to commit) with {names[key]}: p50 {pct(values, 50):.2f} ms, "
              f"p99 {pct(values, 99):.2f} ms ({len(values)} scans; agent RSS {rss[key] / 2**20:.0f} MB)")
    a, b, c = (pct(phases[k], 99) for k in "ABC")
    print(f"p99 ratio B/A = {b / a:.2f}, C/A = {c / a:.2f}; the idle clients {got}; silent clients dropped: "
          f"{dropped}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
