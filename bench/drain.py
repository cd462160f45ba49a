"""Drain of an offline backlog to mosquitto on loopback, end-to-end confirmed, against bare paho loops.

    .venv/bin/python bench/drain.py [--events 100000] [--window 100] [--rounds 3]

Each round makes a backlog in a new lane.db, runs two bare paho QoS 1 windowed publish loops (no database,
TCP_NODELAY like the agent: one with paho's network thread, one driving `loop()` in a single thread, the
faster here), then the agent's drain of the backlog, confirmed by the reference ingest, on the same broker;
the round's ratios are agent / bare. Rounds interleave because this two-core machine swings either rate
by 10-20% from one minute to the next; the median ratios are the figures, and their ranges are printed.
Then one drain in MQTT 3.1.1 mode, beside MQTT 5's.
Also: scan-to-commit p50/p99 while each drain runs, online one-at-a-time commit-to-confirmation p50/p99,
RSS during the drain, and the load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.lane_db import open_sync_db  # noqa: E402
from agent.sdnotify import settle_heap  # noqa: E402
from agent.session.records.sales import record_sale  # noqa: E402
from agent.session.records.scans import record_scan  # noqa: E402
from agent.sync import outbox  # noqa: E402
from simulators.fixtures.sync import cloud_on_loopback  # noqa: E402
from simulators.lanes.sync import SyncLane, mqtt_section, running_lane  # noqa: E402
from simulators.lanes.writer import sale, scan  # noqa: E402


def cpu_s() -> float:
    """User plus system CPU time of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def proc_cpu_s(pid: int) -> float:
    """User plus system CPU time of another process (the broker, the ingest), from /proc."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bare_paho(port: int, count: int, window: int, payload: bytes, topic: str = "bench/bare") -> tuple[float, float]:
    """QoS 1 publishes with at most `window` in flight, paho's network thread; returns (msg/s, CPU us per msg)."""
    done = threading.Semaphore(window)
    finished = threading.Event()
    acked = [0]

    def on_publish(client: paho.Client, userdata: object, mid: int, rc: object, props: object) -> None:
        acked[0] += 1
        done.release()
        if acked[0] == count:
            finished.set()

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=MQTTProtocolVersion.MQTTv5)
    client.max_inflight_messages = 0
    client.on_publish = on_publish
    client.on_connect = lambda c, u, f, rc, p: c.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    time.sleep(0.3)
    started, cpu_before = time.perf_counter(), cpu_s()
    for _ in range(count):
        done.acquire()
        client.publish(topic, payload, qos=1)
    finished.wait(120)
    elapsed = time.perf_counter() - started
    client.loop_stop()
    client.disconnect()
    return count / elapsed, (cpu_s() - cpu_before) / count * 1e6


def bare_paho_one_thread(port: int, count: int, window: int, payload: bytes) -> tuple[float, float]:
    """The same loop without paho's thread: publish while the window has room, then `loop()` for the PUBACKs.

    The faster of the two bare loops on this machine (no GIL hand-over between two threads), so the stricter
    baseline; returns (msg/s, CPU us per msg).
    """
    acked = [0]

    def on_publish(client: paho.Client, userdata: object, mid: int, rc: object, props: object) -> None:
        acked[0] += 1

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare-1", protocol=MQTTProtocolVersion.MQTTv5)
    client.max_inflight_messages = 0
    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    sock = client.socket()
    assert isinstance(sock, socket.socket)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for _ in range(30):   # the CONNACK
        client.loop(0.01)
    sent, started, cpu_before = 0, time.perf_counter(), cpu_s()
    while acked[0] < count:
        while sent < count and sent - acked[0] < window:
            client.publish("bench/bare", payload, qos=1)
            sent += 1
        client.loop(0.1)
    elapsed = time.perf_counter() - started
    client.disconnect()
    return count / elapsed, (cpu_s() - cpu_before) / count * 1e6


def make_backlog(state: Path, events: int) -> bytes:
    def fill(conn: object, start: int, n: int) -> None:
        for i in range(start, start + n):
            (record_sale(conn, sale(i)) if i % 10 == 0 else record_scan(conn, scan(i)))  # type: ignore[arg-type]

    db = open_sync_db(state / "lane.db", "store-001", "lane-01")
    for start in range(0, events, 10_000):
        db.write_blocking(fill, start, min(10_000, events - start))
    sample = db.reader().execute("SELECT payload FROM outbox WHERE schema = 'omo.scan/1' LIMIT 1").fetchone()[0]
    db.close()
    return bytes(sample)


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


async def scans_during(lane: SyncLane, stop: asyncio.Event, latencies: list[float]) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        started = time.perf_counter()
        await lane.db.write(record_scan, scan(n))
        latencies.append((time.perf_counter() - started) * 1000)
        lane.relay.wake(outbox.SCHEMAS["omo.scan/1"][1])
        await asyncio.sleep(0.01)


async def drain(lane: SyncLane, events: int, others: dict[str, int] | None = None
                ) -> tuple[float, list[float], list[float], float, dict[str, float]]:
    """Returns events/s, scan-to-commit times, RSS samples, this process's CPU us per event drained, and that
    of the `others` processes (name -> pid) over the same time."""
    stop, latencies, rss = asyncio.Event(), list[float](), list[float]()
    others = others or {}
    writer = asyncio.create_task(scans_during(lane, stop, latencies))
    started, cpu_before = time.perf_counter(), cpu_s()
    others_before = {name: proc_cpu_s(pid) for name, pid in others.items()}
    reader = lane.db.reader()
    while True:
        if not reader.execute("SELECT 1 FROM outbox INDEXED BY outbox_pending WHERE state = 0 LIMIT 1").fetchone():
            break
        rss.append(rss_mb())
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    total = events + len(latencies)
    others_us = {name: (proc_cpu_s(pid) - others_before[name]) / total * 1e6 for name, pid in others.items()}
    stop.set()
    await writer
    cpu_us = (cpu_s() - cpu_before) / total * 1e6
    return total / elapsed, latencies, rss, cpu_us, others_us


async def online(lane: SyncLane, count: int) -> list[float]:
    """One sale at a time: commit, then wait for the ingest's ack to confirm it."""
    reader, times = lane.db.reader(), []
    for n in range(count):
        _, seq = await lane.db.write(record_sale, sale(n))
        committed = time.perf_counter()
        lane.relay.wake()
        while True:
            if reader.execute("SELECT state FROM outbox WHERE seq = ?", (seq,)).fetchone()[0] == 2:
                break
            await asyncio.sleep(0.0005)
        times.append((time.perf_counter() - committed) * 1000)
    return times


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 2 else float("nan")


async def agent_part(port: int, state: Path, events: int, window: int, with_online: bool,
                     cloud: dict[str, int], protocol: str = "5") -> float:
    """The end-to-end drain with scans during it, then (once) the online figure; returns the drain's events/s."""
    section = mqtt_section(port, inflight_window=window, confirm_timeout_s=30, protocol=protocol)
    async with running_lane(state, section) as lane:
        settle_heap()   # as the daemon does before READY=1
        rate, scan_ms, rss, cpu_us, cloud_us = await drain(lane, events, cloud)
        print(f"  agent drain (end-to-end confirmed): {rate:,.0f} events/s, {cpu_us:.0f} us CPU per event "
              "(the lane process, all threads); on the same cores, per event: "
              + ", ".join(f"{name} {us:.0f} us" for name, us in cloud_us.items()))
        print(f"  scan-to-commit during the drain: p50 {pct(scan_ms, 50):.2f} ms, p99 {pct(scan_ms, 99):.2f} ms "
              f"({len(scan_ms)} scans); RSS start {rss[0]:.1f} MB, max {max(rss):.1f} MB, end {rss[-1]:.1f} MB")
        if with_online:
            times = await online(lane, 300)
            print(f"online commit-to-confirmation: p50 {pct(times, 50):.2f} ms, p99 {pct(times, 99):.2f} ms")
    return rate


async def broker_mode_part(port: int, state: Path, events: int, window: int) -> tuple[float, float]:
    """The same drain confirmed on PUBACK, under a topic nobody subscribes to: the bare loop's conditions.

    Not the issue's figure (that one is end-to-end); it isolates the agent's own cost per message from the
    broker's forwarding and the ingest's, which share this machine's two cores during the real drain.
    """
    section = mqtt_section(port, inflight_window=window, delivery="broker", topic_prefix="bench/unsubscribed")
    async with running_lane(state, section) as lane:
        settle_heap()
        rate, _, _, cpu_us, _ = await drain(lane, events)
    return rate, cpu_us


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="bare loop then agent drain, this many times")
    parser.add_argument("--nice", type=int, default=10, help="niceness of broker and ingest (0: none)")
    parser.add_argument("--no-broker-mode", dest="broker_mode", action="store_false",
                        help="skip the broker-mode drain (context for the agent's own cost per message)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="omo-drain-"))
    with cloud_on_loopback(work, args.nice) as (broker, ingest):
        print(f"load average before: {os.getloadavg()}")
        assert broker.process is not None and ingest.process is not None
        cloud = {"mosquitto": broker.process.pid, "ingest": ingest.process.pid}
        ratios, bares, rates, strict_ratios, stricts = [], [], [], [], []
        for n in range(1, args.rounds + 1):
            # A new lane.db each round, not a copy of one: a copy would share its stream, whose seqs the
            # ingest already holds from the round before.
            state = work / f"round-{n}"
            state.mkdir()
            payload = make_backlog(state, args.events)
            bare, bare_cpu = bare_paho(broker.port, args.events, args.window, payload)
            strict, strict_cpu = bare_paho_one_thread(broker.port, args.events, args.window, payload)
            print(f"round {n}: bare paho QoS 1, window {args.window}, no database: {bare:,.0f} msg/s with paho's "
                  f"thread ({bare_cpu:.0f} us CPU per message), {strict:,.0f} msg/s in one thread "
                  f"({strict_cpu:.0f} us)")
            rate = asyncio.run(agent_part(broker.port, state, args.events, args.window, n == args.rounds, cloud))
            ratios.append(rate / bare)
            strict_ratios.append(rate / strict)
            bares.append(bare)
            stricts.append(strict)
            rates.append(rate)
            print(f"  ratio agent/bare: {rate / bare:.2f} (paho's thread), {rate / strict:.2f} (one thread)")
        print(f"drain: {statistics.median(rates):,.0f} events/s (median of {args.rounds} rounds)")
        print(f"  against the bare loop with paho's thread, median {statistics.median(bares):,.0f} msg/s: ratio "
              f"median {statistics.median(ratios):.2f} (range {min(ratios):.2f} to {max(ratios):.2f})")
        print(f"  against the bare loop in one thread, median {statistics.median(stricts):,.0f} msg/s: ratio "
              f"median {statistics.median(strict_ratios):.2f} (range {min(strict_ratios):.2f} to "
              f"{max(strict_ratios):.2f})")
        # MQTT 3.1.1 mode (`[mqtt] protocol = "3.1.1"`) beside MQTT 5, on the same broker in the same run.
        v311 = work / "mqtt-3.1.1"
        v311.mkdir()
        make_backlog(v311, args.events)
        print("MQTT 3.1.1 mode:")
        rate311 = asyncio.run(agent_part(broker.port, v311, args.events, args.window, False, cloud, "3.1.1"))
        print(f"  3.1.1 drain {rate311:,.0f} events/s: {rate311 / statistics.median(rates):.2f} of MQTT 5's median")
        # Context, not the target's baseline: the same loop on a topic the ingest consumes, so that the broker
        # forwards and the ingest process competes for the two cores as it does during the agent's drain.
        consumed, _ = bare_paho(broker.port, args.events, args.window, payload, "omo/v1/bench/bare/scans")
        print(f"bare paho QoS 1 to a topic the ingest consumes (context): {consumed:,.0f} msg/s; the agent's "
              f"median drain is {statistics.median(rates) / consumed:.2f} of it")
        if args.broker_mode:
            second = work / "broker-mode"
            second.mkdir()
            make_backlog(second, args.events)
            broker_rate, broker_cpu = asyncio.run(broker_mode_part(broker.port, second, args.events, args.window))
            print(f"agent drain in broker mode, no subscriber (context): {broker_rate:,.0f} events/s, "
                  f"{broker_rate / statistics.median(bares):.2f} of the bare loop with paho's thread, "
                  f"{broker_rate / statistics.median(stricts):.2f} of the one-thread loop, {broker_cpu:.0f} us CPU "
                  "per event")
        max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"load average after: {os.getloadavg()}, max RSS {max_rss:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
