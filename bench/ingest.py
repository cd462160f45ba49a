"""The reference ingest's rate into SQLite and PostgreSQL, with one and with two processes on one subscription.

    .venv/bin/python bench/ingest.py [--events 30000] [--lanes 20] [--rounds 2] [--pg-insert copy]

Each case: a fresh mosquitto and database, the ingest process(es) subscribed and then paused (SIGSTOP),
a backlog of scan events from `--lanes` lanes (seq in order per lane, interleaved across lanes as a fleet
sends them) published and PUBACKed (so the broker holds all of it for the paused subscribers), then the
ingests resumed; the rate is the backlog over the time until the database holds every event. It measures
the ingest's side alone (broker forwarding, parsing, de-duplication, commits, marks, acks), not a lane's.
Cases interleave over the rounds (this two-core machine is shared); medians, ratios against SQLite with one
ingest in the same run, and the CPU seconds per 1,000 events of the ingest processes and of the PostgreSQL
server (all its processes). PostgreSQL runs with its defaults: a synchronous, fsynced commit per batch.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.sync.event_ids import new_event_id  # noqa: E402
from simulators.cloud.broker import MosquittoBroker  # noqa: E402
from simulators.cloud.postgres import TemporaryPostgres  # noqa: E402

CASES = (("sqlite", 1), ("sqlite", 2), ("postgres", 1), ("postgres", 2))


def proc_cpu_s(pid: int) -> float:
    """User plus system CPU time of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_s(root: int) -> float:
    """CPU of a process and its children (the postmaster and its backends, walwriter, checkpointer...)."""
    total = proc_cpu_s(root)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "stat").read_text().rsplit(")", 1)[1].split()[1] == str(root):
                    total += proc_cpu_s(int(entry.name))
            except (OSError, IndexError):
                continue
    return total


def backlog(events: int, lanes: int) -> list[tuple[str, bytes]]:
    """(topic, payload) of scan events shaped as a lane sends them, round-robin over the lanes."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    out = []
    for n in range(events):
        lane, seq = n % lanes, n // lanes + 1
        store_id, lane_id = f"store-{lane // 4:03d}", f"lane-{lane % 4:02d}"
        body = {"schema": "omo.scan/1", "event_id": new_event_id(), "store_id": store_id, "lane_id": lane_id,
                "stream_id": f"bench-{lane}", "seq": seq, "occurred_at": now, "device": "handheld",
                "symbology": "ean13", "text": "4901234567894", "kind": "product", "gtin": "04901234567894",
                "session_id": f"s-{seq // 20}", "outcome": "added"}
        out.append((f"omo/v1/{store_id}/{lane_id}/scans", json.dumps(body, separators=(",", ":")).encode()))
    return out


def publish_all(port: int, messages: list[tuple[str, bytes]], window: int = 500) -> None:
    """QoS 1, `window` in flight; returns once the broker has PUBACKed every message (it then holds them)."""
    slots, done = threading.Semaphore(window), threading.Event()
    acked = [0]

    def on_publish(client: paho.Client, userdata: object, mid: int, rc: object, props: object) -> None:
        acked[0] += 1
        slots.release()
        if acked[0] == len(messages):
            done.set()

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-backlog", protocol=MQTTProtocolVersion.MQTTv5)
    client.max_inflight_messages = 0
    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    client.loop_start()
    for topic, payload in messages:
        slots.acquire()
        client.publish(topic, payload, qos=1)
    if not done.wait(120):
        raise TimeoutError(f"the broker acknowledged {acked[0]} of {len(messages)}")
    client.loop_stop()
    client.disconnect()


def start_ingests(port: int, target: str, count: int, pg_insert: str) -> list[subprocess.Popen[str]]:
    procs = []
    for n in range(count):
        proc = subprocess.Popen([sys.executable, "-m", "simulators.cloud.ingest", "--port", str(port), "--db", target,
                                 "--client-id", f"ingest-{n + 1}", "--pg-insert", pg_insert],
                                stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("ingest did not start")
        procs.append(proc)
    return procs


def counter(target: str) -> Callable[[], int]:
    """Events held, read cheaply (this polls every 20 ms beside the ingest: a count(*) cost the server a tenth
    of a core): the processes' own counts on PostgreSQL, committed with the rows; the last rowid on SQLite."""
    if target.startswith("postgresql://"):
        import psycopg
        conn = psycopg.connect(target, autocommit=True)
        return lambda: int(conn.execute("SELECT coalesce(sum(events), 0) FROM ingest_stats").fetchone()[0])  # type: ignore[index]

    def count() -> int:
        try:
            with contextlib.closing(sqlite3.connect(f"file:{target}?mode=ro", uri=True)) as conn:
                return int(conn.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()[0])
        except sqlite3.OperationalError:   # not created yet
            return 0
    return count


def run_case(kind: str, ingests: int, messages: list[tuple[str, bytes]], work: Path, server: TemporaryPostgres,
             number: int, pg_insert: str) -> dict[str, float]:
    broker = MosquittoBroker(work / f"broker-{number}")
    broker.start()
    target = server.create_database(f"bench_{number}") if kind == "postgres" else str(work / f"ingest-{number}.db")
    procs = start_ingests(broker.port, target, ingests, pg_insert)
    try:
        for proc in procs:
            os.kill(proc.pid, signal.SIGSTOP)
        publish_all(broker.port, messages)
        count = counter(target)
        cpu_before = [proc_cpu_s(p.pid) for p in procs]
        server_before = tree_cpu_s(server.process.pid) if server.process else 0.0
        started = time.perf_counter()
        for proc in procs:
            os.kill(proc.pid, signal.SIGCONT)
        deadline = started + 300
        while count() < len(messages):
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{kind} x{ingests}: {count()} of {len(messages)} after 300 s")
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        ingest_cpu = sum(proc_cpu_s(p.pid) for p in procs) - sum(cpu_before)
        server_cpu = (tree_cpu_s(server.process.pid) if server.process else 0.0) - server_before
        per_k = 1000 / len(messages)
        return {"rate": len(messages) / elapsed, "ingest_cpu_per_k": ingest_cpu * per_k,
                "server_cpu_per_k": server_cpu * per_k if kind == "postgres" else 0.0}
    finally:
        for proc in procs:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
            proc.wait(10)
            if proc.stdout:
                proc.stdout.close()
        broker.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=30000)
    parser.add_argument("--lanes", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pg-insert", choices=("copy", "unnest", "executemany"), default="copy")
    parser.add_argument("--only", choices=("sqlite", "postgres"), help="run one database's cases")
    parser.add_argument("--pg-no-fsync", action="store_true",
                        help="PostgreSQL with fsync off: how much of its time is the WAL flush (not for real use)")
    args = parser.parse_args()
    messages = backlog(args.events, args.lanes)
    results: dict[tuple[str, int], list[dict[str, float]]] = {case: [] for case in CASES}
    server = TemporaryPostgres(fsync=not args.pg_no_fsync)
    server.start()
    number = 0
    try:
        with tempfile.TemporaryDirectory(prefix="omo-bench-ingest-") as tmp:
            for _ in range(args.rounds):
                for kind, ingests in CASES:
                    if args.only and kind != args.only:
                        continue
                    number += 1
                    results[(kind, ingests)].append(run_case(kind, ingests, messages, Path(tmp), server, number,
                                                             args.pg_insert))
    finally:
        server.stop()
    print(f"{args.events} events from {args.lanes} lanes, {args.rounds} rounds, PostgreSQL insert: {args.pg_insert}, "
          f"fsync {'off' if args.pg_no_fsync else 'on'}; load average {os.getloadavg()[0]:.1f}")
    baseline = statistics.median(r["rate"] for r in results[("sqlite", 1)]) if results[("sqlite", 1)] else 0
    print(f"{'case':<14}{'events/s':>10}{'range':>18}{'vs sqlite x1':>14}{'ingest CPU s/1k':>17}{'pg CPU s/1k':>13}")
    for (kind, ingests), runs in results.items():
        if not runs:
            continue
        rates = [r["rate"] for r in runs]
        rate = statistics.median(rates)
        ratio = f"{rate / baseline:.2f}" if baseline else "-"
        print(f"{kind + ' x' + str(ingests):<14}{rate:>10.0f}{f'{min(rates):.0f}-{max(rates):.0f}':>18}{ratio:>14}"
              f"{statistics.median(r['ingest_cpu_per_k'] for r in runs):>17.3f}"
              f"{statistics.median(r['server_cpu_per_k'] for r in runs):>13.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
