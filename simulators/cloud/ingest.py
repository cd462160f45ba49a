"""The reference cloud ingest: shared subscription, de-duplication by event_id, seq checks, acks after commit.

Run it as a process (tests, the demo): `python -m simulators.cloud.ingest --port 1883 --db /tmp/ingest.db`,
or on PostgreSQL with `--db postgresql://user@host/dbname` (any libpq DSN; `--dsn` says the same). It prints
`ready` once subscribed. Several processes share the load (`$share/ingest/...`) and one database; an ack
is published only after the rows it names are committed, so an ack never claims more than the database
holds. The storage is an `EventStore` (ingest_store.py): SQLite (ingest_sqlite.py) or PostgreSQL
(ingest_postgres.py, where the marks live in the database, so any process can acknowledge any lane).

Acks: `{"schema": "omo.ack/1", "stream_id": S, "event_ids": [...], "seq_hwm": N}` where `seq_hwm` is the highest
seq up to which every seq of the lane's stream S (one lane.db; a recreated one starts a new stream at seq 1) is
committed. `event_ids` names the events above it, and those that arrived again at or below it.
`seq_reused_up_to` (only once it happened) says that an event it did not hold arrived at a seq it held under
another event ID: two copies of the lane's database (one restored from a backup) wrote seqs up to there, and the
lane confirms those only by event ID.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import select
import signal
import socket
import ssl
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from agent.sync.buffered_socket import BufferedSocket
from simulators.cloud.ingest_sqlite import SqliteEventStore, check
from simulators.cloud.ingest_store import Event, EventStore, Mark, Stream, is_dsn

__all__ = ["Ingest", "check", "main", "parse_args"]   # check: the fixtures' and benches' report of a SQLite file

parse_json: Callable[[bytes | bytearray], Any] = json.loads
try:   # orjson parses an event about 3x faster; the ingest shares the test machine's cores with the lane
    import orjson
    parse_json = orjson.loads
except ImportError:  # pragma: no cover - orjson is a dependency of the agent
    pass

LEAVES = ("sales", "scans", "sessions")


def open_store(target: str, ingest_id: str, pg_insert: str = "copy") -> EventStore:
    """SQLite for a file path, PostgreSQL for a DSN (psycopg is imported only then)."""
    if is_dsn(target):
        from simulators.cloud.ingest_postgres import PostgresEventStore
        return PostgresEventStore(target, ingest_id, pg_insert)
    return SqliteEventStore(Path(target))

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
        try:
            self.store = open_store(args.db, args.client_id, args.pg_insert)
        except Exception as exc:   # sqlite3 or psycopg: either way the cause, and no ingest without its database
            raise SystemExit(f"ingest: cannot open the database: {exc}") from exc
        self.inbox: list[bytes | bytearray] = []
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
        now, events = time.time(), []
        for payload in items:
            event = parse_json(payload)
            events.append(Event(event["event_id"], event["store_id"], event["lane_id"], int(event["seq"]),
                                int(event.get("seq_end", event["seq"])), event["schema"], payload.decode(), now,
                                event.get("stream_id", "")))
        marks = self.store.store(events)   # committed: only now may an ack speak of these events
        by_stream: dict[Stream, list[Event]] = defaultdict(list)
        for event in events:
            by_stream[event.stream].append(event)
        for stream, batch in by_stream.items():
            self._ack(stream, batch, marks[stream])

    def _ack(self, stream: Stream, events: Sequence[Event], mark: Mark) -> None:
        # Events the high-water mark newly covers need not be named: with one ingest that is nearly all of
        # them, and the ack stays a few bytes instead of 40 per event. Events at or below the mark held before
        # are named: sent again, or from another copy of the lane's database, which the lane then confirms
        # only by event ID.
        named = [e.event_id for e in events if e.seq_end > mark.hwm or e.seq_end <= mark.held_before]
        store, lane, stream_id = stream
        body: dict[str, Any] = {"schema": "omo.ack/1", "stream_id": stream_id, "event_ids": named,
                                "seq_hwm": mark.hwm}
        if mark.reused_up_to:
            body["seq_reused_up_to"] = mark.reused_up_to
        self.client.publish(f"{self.args.prefix}/{store}/{lane}/acks", json.dumps(body, separators=(",", ":")), qos=1)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--db", help="a SQLite file, or a PostgreSQL DSN (postgresql://...)")
    target.add_argument("--dsn", help="a PostgreSQL DSN (libpq URL or key=value string)")
    parser.add_argument("--prefix", default="omo/v1")
    parser.add_argument("--client-id", default="ingest-1", help="the MQTT client ID, also this process's stats row")
    parser.add_argument("--ca-file")
    parser.add_argument("--cert-file")
    parser.add_argument("--key-file")
    parser.add_argument("--no-share", action="store_true",
                        help="subscribe without $share (for a broker that has no shared subscriptions, e.g. amqtt)")
    parser.add_argument("--pg-insert", choices=("copy", "unnest", "executemany"), default="copy",
                        help="how a batch goes into PostgreSQL (bench/ingest.py compares them)")
    parser.add_argument("--batch", type=int, default=500, help="most events in one transaction")
    parser.add_argument("--commit-interval-ms", type=float, default=2.0,
                        help="least time between two commits while events keep arriving (group commit)")
    args = parser.parse_args(argv)
    if args.dsn is not None and not is_dsn(args.dsn):
        parser.error(f"--dsn {args.dsn!r} is not a PostgreSQL DSN: give postgresql://user@host/dbname "
                     "or 'host=... dbname=...' (a SQLite file goes to --db)")
    args.db = args.db or args.dsn
    return args


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ingest = Ingest(parse_args(argv))
    try:
        ingest.run()
    finally:
        ingest.store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
