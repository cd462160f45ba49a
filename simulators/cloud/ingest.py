"""The reference cloud ingest: shared subscription, SQLite with de-duplication by event_id, seq checks, acks.

Run it as a process (tests, the demo): `python -m simulators.cloud.ingest --port 1883 --db /tmp/ingest.db`.
It prints `ready` once subscribed. Several processes may share the load (`$share/ingest/...`) and one
database file; an ack is published only after the rows it names are committed, so an ack never claims
more than the ingest holds. Acks: `{"schema": "omo.ack/1", "stream_id": S, "event_ids": [...], "seq_hwm": N}`
where `seq_hwm` is the highest seq up to which every seq of the lane's stream S (one lane.db; a recreated
one starts a new stream at seq 1) is committed: read from the database when this process first meets the
stream (after a restart too), then kept from what it commits. `event_ids` names the events above it, and
those that arrived again at or below it. `seq_reused_up_to` (only once it happened) says that an event it
did not hold arrived at a seq it held under another event ID: two copies of the lane's database (one
restored from a backup) wrote seqs up to there, and the lane confirms those only by event ID.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import select
import signal
import socket
import sqlite3
import ssl
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from agent.sync.buffered_socket import BufferedSocket

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
CREATE TABLE IF NOT EXISTS stream_reuse (
    store_id TEXT NOT NULL, lane_id TEXT NOT NULL, stream_id TEXT NOT NULL, seq_reused_up_to INTEGER NOT NULL,
    PRIMARY KEY (store_id, lane_id, stream_id));
"""


def open_db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript(SCHEMA)
    return conn


class LaneTracker:
    """Per-stream contiguous high-water mark from the seqs committed to the database."""

    def __init__(self) -> None:
        self.hwm = 0
        self.above: set[int] = set()
        self.reused_up_to = 0   # seqs up to here were written by two copies of the lane's database

    def held(self, seq: int) -> bool:
        return seq <= self.hwm or seq in self.above

    def highest(self) -> int:
        return max(self.hwm, max(self.above, default=0))

    @classmethod
    def from_db(cls, conn: sqlite3.Connection, stream: tuple[str, str, str]) -> LaneTracker:
        """The mark as the database holds it, for a stream first seen by this process.

        Why: starting at 0 after a restart, the mark would wait forever for seq 1, which arrived before; every
        ack would then name every event, and the seqs above it would pile up in memory.
        """
        tracker = cls()
        reused = conn.execute("SELECT seq_reused_up_to FROM stream_reuse WHERE store_id = ? AND lane_id = ? "
                              "AND stream_id = ?", stream).fetchone()
        tracker.reused_up_to = reused[0] if reused else 0
        for seq, seq_end in conn.execute("SELECT seq, seq_end FROM events WHERE store_id = ? AND lane_id = ? "
                                         "AND stream_id = ? ORDER BY seq", stream):
            if seq <= tracker.hwm + 1 and not tracker.above:
                tracker.hwm = max(tracker.hwm, seq_end)
            else:
                tracker.add(seq, seq_end)
        return tracker

    def add(self, first: int, last: int) -> None:
        self.above.update(range(max(first, self.hwm + 1), last + 1))   # a resent seq at or below stays out
        while self.hwm + 1 in self.above:
            self.hwm += 1
            self.above.discard(self.hwm)


class Ingest:
    """One ingest process, one thread: read what has arrived, commit it, ack it, send, and wait again.

    Why one thread driving paho by hand, not paho's network thread: this process shares the test machine's
    two cores with the lane and the broker, and per message it paid for three or four `recv` calls, a
    `send` for the PUBACK, a wake-up of the other thread and a GIL hand-over. Reading through the agent's
    `BufferedSocket` takes everything that arrived in one `recv`, commits it in one transaction, acks it in
    one message per stream and sends the turn's PUBACKs and acks in one `send`. An ack still follows its
    rows' commit, so it never claims more than the database holds.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.db = open_db(Path(args.db))
        self.inbox: list[bytes | bytearray] = []
        self.streams: dict[tuple[str, str, str], LaneTracker] = {}
        self.subscribed = False
        self._last_commit = 0.0
        self._ready_by = time.monotonic() + 15   # "ready" (subscribed) by then, or exit with the cause
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
        client.on_subscribe = self._on_subscribe
        client.on_message = lambda c, u, message: self.inbox.append(message.payload)
        # A write callback, so that paho queues each PUBACK instead of writing it at once: the turn sends them.
        client.on_socket_register_write = lambda c, u, s: None
        client.max_inflight_messages = 0   # acks are small and many; paho's default of 20 would queue them
        return client

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        prefix = self.args.prefix
        share = "" if self.args.no_share else "$share/ingest/"   # a broker without shared subscriptions: one ingest
        client.subscribe([(f"{share}{prefix}/+/+/{leaf}", 1) for leaf in LEAVES])

    def _on_subscribe(self, client: paho.Client, userdata: Any, mid: int, codes: Any, props: Any) -> None:
        if not self.subscribed:
            self.subscribed = True
            print("ready", flush=True)

    def run(self) -> None:
        while True:
            try:
                io = self._connect()
            except OSError as exc:
                if not self.subscribed and time.monotonic() > self._ready_by:
                    raise SystemExit(f"ingest: cannot reach the broker at {self.args.host}:{self.args.port}: "
                                     f"{exc}") from exc
                time.sleep(0.5)
                continue
            self._serve(io)
            time.sleep(0.5)   # the broker went away: try again until it is back

    def _connect(self) -> BufferedSocket:
        self.client.connect(self.args.host, self.args.port, keepalive=10)
        sock = self.client.socket()
        # paho leaves Nagle on, which holds each small ack for the delayed ACK (~40 ms).
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        io = BufferedSocket(sock)
        self.client._sock = io   # paho 2.x reads and writes through this attribute; the CONNECT is still queued
        return io

    def _serve(self, io: BufferedSocket) -> None:
        """One connection: returns when paho or the socket reports it lost."""
        client, last_tick = self.client, time.monotonic()
        while client.socket() is io:
            # What the last turn queued (PUBACKs, acks; the CONNECT on the first) leaves in one send.
            if client.loop_write() != paho.MQTT_ERR_SUCCESS:
                break
            try:
                blocked = not io.flush()
            except OSError:
                break
            readable, _, _ = select.select([io], [io] if blocked else [], [], self._wait_s(io))
            if readable or io.pending():
                if client.loop_read() != paho.MQTT_ERR_SUCCESS:
                    break
                while io.pending() and client.socket() is io:   # paho reads one packet per call
                    if client.loop_read() != paho.MQTT_ERR_SUCCESS:
                        break
            if self.inbox and (len(self.inbox) >= self.args.batch or time.monotonic() >= self._commit_due()):
                self._last_commit = time.monotonic()
                while self.inbox:
                    items, self.inbox = self.inbox[:self.args.batch], self.inbox[self.args.batch:]
                    self._store_and_ack(items)
            if time.monotonic() - last_tick >= 1.0:
                last_tick = time.monotonic()
                if not self.subscribed and last_tick > self._ready_by:
                    raise SystemExit("ingest: connected to the broker, but no SUBACK within 15 s")
                if client.loop_misc() != paho.MQTT_ERR_SUCCESS:   # keepalive: a dead link shows here
                    break
        with contextlib.suppress(OSError):
            io.close()
        self.client._sock = None

    def _commit_due(self) -> float:
        """Group commit: at most one transaction (and one ack per stream) per interval.

        A lone event is committed and acked as soon as it arrives; during a drain the events of one interval
        share a transaction. One commit per lane loop turn (about ten events) cost this process as much
        CPU as the events themselves, and each of its acks cost the lane and the broker a message too.
        """
        return self._last_commit + float(self.args.commit_interval_ms) / 1000

    def _wait_s(self, io: BufferedSocket) -> float:
        if io.pending():
            return 0.0
        if self.inbox:
            return max(0.0, self._commit_due() - time.monotonic())
        return 1.0

    def _store_and_ack(self, items: list[bytes | bytearray]) -> None:
        rows, acks = [], defaultdict(list)
        for payload in items:
            event = parse_json(payload)
            stream = (event["store_id"], event["lane_id"], event.get("stream_id", ""))
            seq_end = int(event.get("seq_end", event["seq"]))
            rows.append((event["event_id"], stream[0], stream[1], int(event["seq"]), seq_end, event["schema"],
                         payload.decode(), time.time(), stream[2]))
            acks[stream].append((event["event_id"], int(event["seq"]), seq_end))
        for stream in acks:   # before this batch is in the database, so that the mark held before is the old one
            if stream not in self.streams:
                self.streams[stream] = LaneTracker.from_db(self.db, stream)
        reuses = {stream: up_to for stream, events in acks.items() if (up_to := self._reused(stream, events))}
        self.db.execute("BEGIN IMMEDIATE")
        before = self.db.total_changes
        self.db.executemany("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        duplicates = len(rows) - (self.db.total_changes - before)
        self.db.execute("INSERT INTO stats VALUES ('duplicates', ?) ON CONFLICT (key) DO UPDATE SET "
                        "value = value + excluded.value", (duplicates,))
        self.db.executemany("INSERT INTO stream_reuse VALUES (?, ?, ?, ?) ON CONFLICT (store_id, lane_id, stream_id) "
                            "DO UPDATE SET seq_reused_up_to = max(seq_reused_up_to, excluded.seq_reused_up_to)",
                            [(*stream, up_to) for stream, up_to in reuses.items()])
        self.db.execute("COMMIT")
        for stream, up_to in reuses.items():
            self.streams[stream].reused_up_to = max(self.streams[stream].reused_up_to, up_to)
        for (store, lane, stream_id), events in acks.items():
            tracker = self.streams[(store, lane, stream_id)]
            held_before = tracker.hwm
            for _, seq, seq_end in events:
                tracker.add(seq, seq_end)
            # Events the high-water mark newly covers need not be named: with one ingest that is nearly all of
            # them, and the ack stays a few bytes instead of 40 per event. Events at or below the mark it had
            # already are named: sent again, or from another copy of the lane's database, which the lane then
            # confirms only by event ID.
            named = [e for e, _, seq_end in events if seq_end > tracker.hwm or seq_end <= held_before]
            body: dict[str, Any] = {"schema": "omo.ack/1", "stream_id": stream_id, "event_ids": named,
                                    "seq_hwm": tracker.hwm}
            if tracker.reused_up_to:
                body["seq_reused_up_to"] = tracker.reused_up_to
            self.client.publish(f"{self.args.prefix}/{store}/{lane}/acks",
                                json.dumps(body, separators=(",", ":")), qos=1)


    def _reused(self, stream: tuple[str, str, str], events: list[tuple[str, int, int]]) -> int:
        """Seqs written by two copies of the lane's database: an event not held yet at a seq already held.

        Returns the highest seq held so far (the other copy's events may reach that far), or 0. Only events at
        held seqs are looked up, and those are rare: resends, and the events of a restored copy.
        """
        tracker = self.streams[stream]
        at_held = {event_id for event_id, seq, _ in events if tracker.held(seq)}
        if not at_held:
            return 0
        marks = ",".join("?" * len(at_held))
        known = {row[0] for row in self.db.execute(f"SELECT event_id FROM events WHERE event_id IN ({marks})",
                                                   tuple(at_held))}
        return tracker.highest() if at_held - known else 0


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
    parser.add_argument("--no-share", action="store_true",
                        help="subscribe without $share (for a broker that has no shared subscriptions, e.g. amqtt)")
    parser.add_argument("--batch", type=int, default=500, help="most events in one transaction")
    parser.add_argument("--commit-interval-ms", type=float, default=2.0,
                        help="least time between two commits while events keep arriving (group commit)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    Ingest(parse_args(argv)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
