"""Scale reading latency and the CPU a live poll costs.

Latency: request sent -> Reading returned, p50/p99 per serial protocol, with the simulator pacing its replies
like a 9600 baud wire (10 bits a byte). A pty does not pace what the driver writes, so each figure is given as
a ratio of the wire time of the bytes that were paced (the reply; for the CAS PD-II the ACK and the reply),
which a cable costs anyway: a ratio near 1 means the driver adds little. The last column is the wire time of
the whole exchange (requests too), what a real 9600 baud cable costs at least. The platter is still, so every
`read_stable` is one poll.

CPU: the driver's own process time for a 10 Hz `live()` poll, per minute, with the simulator in a separate
process (`omo-edge simulate scale`) so only the driver's side is counted.

    .venv/bin/python bench/scale.py [--polls 300] [--cpu-seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from drivers.scales import open_scale
from simulators.devices.scale import VirtualScale
from simulators.devices.scale_physics import ScalePhysics
from simulators.devices.serial_pty import wire_time_s

REQUESTS = {"toledo": b"W", "scp01": b"\nW\r", "nci": b"W\r", "cas": b"\x05\x11"}
ACK = {"cas": 1}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def latency(protocol: str, polls: int) -> tuple[list[float], float, float]:
    """Latencies (s) of `polls` stable reads; the wire time at 9600 baud of the paced reply, of the exchange."""
    sim = VirtualScale(protocol, physics=ScalePhysics(started_at=time.monotonic() - 10), baudrate=9600)
    try:
        sim.place(350_000)
        await asyncio.sleep(0.7)
        times: list[float] = []
        async with open_scale(sim.driver, {**sim.options, "reply_timeout_ms": 2000}) as scale:
            await scale.read_stable(5)
            for _ in range(polls):
                await asyncio.sleep(0.005)           # the loop asleep in epoll, as between live polls
                start = time.perf_counter()
                reading = await scale.read_stable(5)
                times.append(time.perf_counter() - start)
                assert reading.weight_mg == 350_000
        reply = len(sim.replies[-1]) + ACK.get(protocol, 0)
        return times, wire_time_s(reply, 9600), wire_time_s(len(REQUESTS[protocol]) + reply, 9600)
    finally:
        sim.close()


async def live_cpu(protocol: str, seconds: float) -> tuple[float, int]:
    """The driver's CPU seconds per minute of a 10 Hz live poll, and the readings it got."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "agent", "simulate", "scale", "--protocol",
                                                protocol, stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        first = (await proc.stdout.readline()).decode()
        path = first.split(" at ", 1)[1].split(" (", 1)[0]
        key = "path" if protocol == "hid" else "port"
        driver = {"toledo": "toledo8217", "scp01": "scp01", "cas": "cas_pd2", "hid": "hid_scale"}[protocol]
        count = 0
        async with open_scale(driver, {key: path, "rate_hz": 10}) as scale:
            cpu0, wall0 = time.process_time(), time.monotonic()
            async for _ in scale.live():
                count += 1
                if time.monotonic() - wall0 >= seconds:
                    break
            cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        return cpu / wall * 60, count
    finally:
        proc.stdin.close()
        await proc.wait()


async def main(polls: int, cpu_seconds: float) -> None:
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cores")
    print(f"{'protocol':9} {'reply wire':>10} {'p50':>9} {'p99':>9} {'p50/wire':>9} {'p99/wire':>9} "
          f"{'exchange wire':>14}")
    for protocol in REQUESTS:
        times, wire, exchange = await latency(protocol, polls)
        p50, p99 = pct(times, 0.5), pct(times, 0.99)
        print(f"{protocol:9} {wire * 1000:8.2f}ms {p50 * 1000:7.2f}ms {p99 * 1000:7.2f}ms "
              f"{p50 / wire:9.2f} {p99 / wire:9.2f} {exchange * 1000:12.2f}ms")
    print(f"\nCPU of a 10 Hz live poll (driver process only, {cpu_seconds:g} s each):")
    for protocol in ("toledo", "scp01", "cas", "hid"):
        per_minute, count = await live_cpu(protocol, cpu_seconds)
        print(f"  {protocol:7} {per_minute * 1000:7.1f} ms CPU per minute ({count} readings, "
              f"{count / cpu_seconds:.1f} a second)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--polls", type=int, default=300, help="stable reads per protocol (default 300)")
    parser.add_argument("--cpu-seconds", type=float, default=20.0, help="seconds of live polling per protocol")
    args = parser.parse_args()
    asyncio.run(main(args.polls, args.cpu_seconds))
