"""The reference cloud ingest: shared subscription, SQLite with de-duplication by event_id, seq checks, acks.

Run it as a process (tests, the demo): `python -m simulators.ingest --port 1883 --db /tmp/ingest.db`.
It prints `ready` once subscribed. Several processes may share the load (`$share/ingest/...`) and one
database file; an ack is published only after the rows it names are committed, so an ack never claims
more than the ingest holds. Acks: `{"schema": "omo.ack/1", "stream_id": S, "event_ids": [...], "seq_hwm": N}`
where `seq_hwm` is the highest seq up to which this process has seen every seq of the lane's stream S (one
lane.db; a recreated one starts a new stream at seq 1); `event_ids` names only the events above it.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sqlite3
import ssl
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

parse_json: Callable[[bytes | bytearray], Any] = json.loads
try:   # orjson parses an event about 3x faster; the ingest shares the test machine's cores with the lane
    import orjson
    parse_json = orjson.loads
except ImportError:  # pragma: no cover - orjson is a dependency of the agent
    pass

LEAVES = ("sales", "scans", "sessions")
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY, store_id TEXT NOT NULL, lane_id TEXT NOT NULL, seq INTEGER NOT NULL,
    seq_end INTEGER NOT NULL, schema TEXT NOT NULL, payload TEXT NOT NULL, received_at REAL NOT NULL,
    stream_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_lane_seq ON events (store_id, lane_id, stream_id, seq);
CREATE TABLE IF NOT EXISTS stats (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def open_db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript(SCHEMA)
    return conn


class LaneTracker:
    """Per-stream contiguous high-water mark from the seqs this process has committed."""

    def __init__(self) -> None:
        self.hwm = 0
        self.above: set[int] = set()

    def add(self, first: int, last: int) -> None:
        self.above.update(range(first, last + 1))
        while self.hwm + 1 in self.above:
            self.hwm += 1
            self.above.discard(self.hwm)


class Ingest:
    """One ingest process: paho's thread receives, the main thread commits in batches and acks.

    Why a deque and a flag, not a queue.Queue: a Queue takes a lock and notifies a condition per message,
    which at 15,000 messages a second was a good part of this process's CPU. The receiving thread only
    appends, and sets the event when the main thread said it was about to sleep.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.db = open_db(Path(args.db))
        self.inbox: deque[bytes | bytearray] = deque()
        self._idle = False
        self._arrived = threading.Event()
        self.streams: dict[tuple[str, str, str], LaneTracker] = defaultdict(LaneTracker)
        self.subscribed = threading.Event()
        self.client = self._client()

    def _client(self) -> paho.Client:
        # The cloud side picks its own protocol: 3.1.1 spares paho an MQTT 5 properties object per message,
        # and this process shares the test machine's two cores with the lane (the lane itself speaks MQTT 5).
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.args.client_id,
                             protocol=MQTTProtocolVersion.MQTTv311)
        if self.args.ca_file:
            context = ssl.create_default_context(cafile=self.args.ca_file)
            context.load_cert_chain(self.args.cert_file, self.args.key_file)
            client.tls_set_context(context)
        client.on_connect = self._on_connect
        client.on_subscribe = lambda c, u, mid, codes, props: self.subscribed.set()
        client.on_message = self._on_message
        client.reconnect_delay_set(1, 2)
        client.max_inflight_messages = 0   # acks are small and many; paho's default of 20 would queue them
        return client

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        self.inbox.append(message.payload)
        if self._idle:
            self._arrived.set()

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        sock = client.socket()
        # paho leaves Nagle on, which holds each small ack for the delayed ACK (~40 ms).
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        prefix = self.args.prefix
        client.subscribe([(f"$share/ingest/{prefix}/+/+/{leaf}", 1) for leaf in LEAVES])

    def run(self) -> None:
        self.client.connect_async(self.args.host, self.args.port, keepalive=10)
        self.client.loop_start()
        if not self.subscribed.wait(15):
            raise SystemExit("ingest: no SUBACK within 15 s")
        print("ready", flush=True)
        while True:
            self._batch()

    def _batch(self) -> None:
        self._idle = True   # before looking: a message appended after the look then sets the event
        if not self.inbox:
            self._arrived.wait(0.5)
        self._idle = False
        self._arrived.clear()
        items: list[bytes | bytearray] = []
        while self.inbox and len(items) < self.args.batch:
            items.append(self.inbox.popleft())
        if items:
            self._store_and_ack(items)

    def _store_and_ack(self, items: list[bytes | bytearray]) -> None:
        rows, acks = [], defaultdict(list)
        for payload in items:
            event = parse_json(payload)
            stream = (event["store_id"], event["lane_id"], event.get("stream_id", ""))
            seq_end = int(event.get("seq_end", event["seq"]))
            rows.append((event["event_id"], stream[0], stream[1], int(event["seq"]), seq_end, event["schema"],
                         payload.decode(), time.time(), stream[2]))
            acks[stream].append((event["event_id"], int(event["seq"]), seq_end))
        self.db.execute("BEGIN IMMEDIATE")
        before = self.db.total_changes
        self.db.executemany("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        duplicates = len(rows) - (self.db.total_changes - before)
        self.db.execute("INSERT INTO stats VALUES ('duplicates', ?) ON CONFLICT (key) DO UPDATE SET "
                        "value = value + excluded.value", (duplicates,))
        self.db.execute("COMMIT")
        for (store, lane, stream_id), events in acks.items():
            tracker = self.streams[(store, lane, stream_id)]
            for _, seq, seq_end in events:
                tracker.add(seq, seq_end)
            # Events the high-water mark covers need not be named: with one ingest that is nearly all of them,
            # and the ack stays a few bytes instead of 40 per event.
            body = {"schema": "omo.ack/1", "stream_id": stream_id,
                    "event_ids": [e for e, _, seq_end in events if seq_end > tracker.hwm], "seq_hwm": tracker.hwm}
            self.client.publish(f"{self.args.prefix}/{store}/{lane}/acks",
                                json.dumps(body, separators=(",", ":")), qos=1)


def check(db_path: Path) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Per (store, lane, stream): events held, highest seq and missing seqs (gaps), for tests."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        report: dict[tuple[str, str, str], dict[str, Any]] = {}
        streams = conn.execute("SELECT DISTINCT store_id, lane_id, stream_id FROM events").fetchall()
        for store, lane, stream_id in streams:
            covered: set[int] = set()
            for seq, seq_end in conn.execute("SELECT seq, seq_end FROM events WHERE store_id = ? AND lane_id = ? "
                                             "AND stream_id = ?", (store, lane, stream_id)):
                covered.update(range(seq, seq_end + 1))
            top = max(covered, default=0)
            report[(store, lane, stream_id)] = {"events": len(covered), "max_seq": top,
                                                "gaps": sorted(set(range(1, top + 1)) - covered)}
        return report
    finally:
        conn.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--prefix", default="omo/v1")
    parser.add_argument("--client-id", default="ingest-1")
    parser.add_argument("--ca-file")
    parser.add_argument("--cert-file")
    parser.add_argument("--key-file")
    parser.add_argument("--batch", type=int, default=500)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    Ingest(parse_args(argv)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
