"""Serial scan latency: last byte written into the pty -> ScanEvent delivered, p50/p99 over N scans.

Beside it, in the same run: the wire time of the same bytes at 9600 baud (what the scanner's cable costs
anyway), and a baseline of the bare pty + asyncio round trip (write, add_reader wakes, os.read), so the
driver's own cost is the difference; the two run in interleaved blocks. A writer thread sends one scan at a
time after a short random pause, so the event loop is asleep in epoll when the bytes arrive, as with a real
scanner; nothing queues.

    .venv/bin/python bench/serial_latency.py [--scans 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import threading
import time
from collections.abc import Callable

from drivers.serial import SerialScanner
from simulators.devices.serial_pty import VirtualSerialScanner, wire_time_s


def ean13(n: int) -> str:
    body = f"{400000000000 + n:012d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Writer(threading.Thread):
    """Sends frame i once the previous one was received; records when its bytes (all at once) go into the pty."""

    def __init__(self, write: Callable[[bytes], None], frames: list[bytes]) -> None:
        super().__init__(daemon=True)
        self.write, self.frames = write, frames
        self.sent: list[float] = []
        self.ready = threading.Event()

    def run(self) -> None:
        rng = random.Random(1)
        for frame in self.frames:
            if not self.ready.wait(5):
                return
            self.ready.clear()
            time.sleep(rng.uniform(0.0002, 0.0008))   # let the loop go back to sleep in epoll
            self.sent.append(time.perf_counter())   # just before the write: includes the write itself
            self.write(frame)


async def driver_latency(n: int) -> tuple[list[float], int]:
    with VirtualSerialScanner() as sim:
        frames = [sim.frame(ean13(i), aim="]E0") for i in range(n)]
        writer, received = Writer(sim.write, frames), []
        async with SerialScanner("bench", {"port": sim.path, "bounce_ms": 0}) as scanner:
            events = aiter(scanner.scans())
            writer.start()
            for _ in range(n):
                writer.ready.set()
                async with asyncio.timeout(5):
                    await anext(events)
                received.append(time.perf_counter())
        return [r - s for r, s in zip(received, writer.sent, strict=True)], len(frames[0])


async def baseline_latency(n: int) -> list[float]:
    """The floor: the same pty, woken through the same loop.add_reader, no framing, no queue."""
    with VirtualSerialScanner() as sim:
        frames = [sim.frame(ean13(i), aim="]E0") for i in range(n)]
        fd = os.open(sim.slave_path, os.O_RDWR | os.O_NONBLOCK | os.O_NOCTTY)
        loop = asyncio.get_running_loop()
        writer, received, buf = Writer(sim.write, frames), [], bytearray()
        waiting: list[asyncio.Future[None]] = []

        def readable() -> None:
            buf.extend(os.read(fd, 4096))
            if buf.endswith(b"\r") and waiting and not waiting[0].done():
                buf.clear()
                waiting[0].set_result(None)

        loop.add_reader(fd, readable)
        writer.start()
        try:
            for _ in range(n):
                waiting[:] = [loop.create_future()]
                writer.ready.set()
                await asyncio.wait_for(waiting[0], 5)
                received.append(time.perf_counter())
        finally:
            loop.remove_reader(fd)
            os.close(fd)
        return [r - s for r, s in zip(received, writer.sent, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scans", type=int, default=10_000)
    args = parser.parse_args()
    load = os.getloadavg()
    base: list[float] = []
    lat: list[float] = []
    for _ in range(10):   # interleaved blocks, so drifting load hits both alike
        base += asyncio.run(baseline_latency(args.scans // 10))
        block, size = asyncio.run(driver_latency(args.scans // 10))
        lat += block
    wire = wire_time_s(size, 9600)
    ms = 1000.0
    print(f"serial scan latency, {args.scans} scans of {size} bytes (]E0 + EAN-13 + CR); "
          f"load average {load[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end, {os.cpu_count()} cores")
    print(f"  wire time at 9600 baud (8N1):        {wire * ms:8.3f} ms")
    for name, values in (("baseline pty+asyncio round trip", base), ("driver: last byte -> ScanEvent", lat)):
        print(f"  {name:<36} p50 {pct(values, 0.5) * ms:7.3f} ms  p99 {pct(values, 0.99) * ms:7.3f} ms  "
              f"mean {statistics.fmean(values) * ms:7.3f} ms")
    added50, added99 = pct(lat, 0.5) - pct(base, 0.5), pct(lat, 0.99) - pct(base, 0.99)
    print(f"  driver / baseline:                   p50 x{pct(lat, 0.5) / pct(base, 0.5):.2f}  "
          f"p99 x{pct(lat, 0.99) / pct(base, 0.99):.2f}")
    print(f"  added by the driver over baseline:   p50 {added50 * ms:7.3f} ms  p99 {added99 * ms:7.3f} ms "
          f"(target p99 < 2 ms)")
    print(f"  driver p99 / wire time at 9600 baud: {pct(lat, 0.99) / wire:.3f}")


if __name__ == "__main__":
    main()
