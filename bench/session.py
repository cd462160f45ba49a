"""The shopper's session: scan to basket updated, re-pricing cost, completed sales per second.

    .venv/bin/python bench/session.py [--products 1000000] [--scans 500] [--backlog 50000]

1. Scan to basket updated: a scan through the real pipeline and session (interpretation, the catalog lookup in
   a catalog of `--products`, the durable commit of the scan, the visit and its events) until the screen's
   WebSocket client holds the new session, while the relay drains a backlog of `--backlog` events to
   mosquitto and the reference ingest. Baseline in the same run: one bare SQLite commit with
   synchronous=FULL in the same directory (what a durable commit costs on this disk).
2. Re-pricing per scan with a 200-line basket, against a 20-line one: the ratio per line shows it does not
   grow with the square of the basket.
3. Completed sales per second on one lane (10 lines each, the simulated payment), against bare commits per
   second: a sale is 12 durable commits (10 scans, the payment intent, the sale), each with the session's own
   work around it (the change, its events, pricing and the screen's view after the commit).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.api.events import EventHub  # noqa: E402
from agent.api.server import ApiServer  # noqa: E402
from agent.api.settings import ApiSection  # noqa: E402
from agent.catalog.db import CatalogDb  # noqa: E402
from agent.catalog.load import load_snapshot  # noqa: E402
from agent.health import ComponentHealth, HealthRegistry  # noqa: E402
from agent.sdnotify import settle_heap  # noqa: E402
from agent.session.rules.basket import BasketLine, add_item, new_session  # noqa: E402
from agent.session.rules.totals import price  # noqa: E402
from agent.sync.mqtt import Publisher  # noqa: E402
from agent.sync.relay import OutboxRelay  # noqa: E402
from simulators.cloud.catalog_data import SnapshotSpec, gtin_for, write_snapshot  # noqa: E402
from simulators.cloud.store_catalog import records  # noqa: E402
from simulators.cloud.tokens import TokenIssuer  # noqa: E402
from simulators.doubles.ports import free_port  # noqa: E402
from simulators.fixtures.session import DEFAULT_POINTS, DEFAULT_SESSION, SessionLane  # noqa: E402
from simulators.fixtures.sync import cloud_on_loopback  # noqa: E402
from simulators.lanes.sync import mqtt_section  # noqa: E402
from simulators.lanes.writer import scan as scan_fields  # noqa: E402

# Generated product i is age-restricted when i % 50 == 0 (simulators/cloud/catalog_data.py): those would stop
# the basket for an attendant, so the bench scans only the others.
SELLABLE = [i for i in range(1, 600) if i % 50]


def code(n: int) -> str:
    """The EAN-13 of the n-th sellable generated product (wrapping at 500)."""
    return gtin_for(SELLABLE[n % 500])[1:]


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def bare_commits(directory: Path, count: int) -> list[float]:
    """One small row per durable commit (WAL, synchronous=FULL), as a scan's commit is at the least."""
    conn = sqlite3.connect(directory / "bare.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    times = []
    for n in range(count):
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (body) VALUES (?)", (json.dumps({"n": n, "pad": "x" * 300}),))
        conn.execute("COMMIT")
        times.append((time.perf_counter() - started) * 1000)
    conn.close()
    return times


async def make_lane(work: Path, products: int, hub: EventHub) -> SessionLane:
    state = work / "state"
    state.mkdir()
    catalog = CatalogDb.open(state)
    snapshot = write_snapshot(work / "big.jsonl", SnapshotSpec(products=products, members=10,
                                                               extra=tuple(records(1))))
    started = time.perf_counter()
    load_snapshot(catalog, snapshot)
    catalog.close()
    print(f"catalog of {products:,} products loaded in {time.perf_counter() - started:.1f} s")
    issuer = TokenIssuer()
    keys = work / "keys"
    keys.mkdir()
    issuer.write_public_key(keys)
    lane = SessionLane(state, issuer, settings=DEFAULT_SESSION, points=DEFAULT_POINTS, echo=hub.publish)
    await lane.open()
    return lane


def fill_backlog(lane: SessionLane, events: int) -> None:
    from agent.session.records.scans import record_scan

    def fill(conn: sqlite3.Connection, start: int, n: int) -> None:
        for i in range(start, start + n):
            record_scan(conn, scan_fields(i))

    assert lane.lane_db is not None
    for start in range(0, events, 10_000):
        lane.lane_db.write_blocking(fill, start, min(10_000, events - start))


async def scan_to_screen(lane: SessionLane, hub: EventHub, scans: int,
                         port: int) -> tuple[list[float], list[float]]:
    """Scan to the session's message handed to the API's WebSocket fan-out, and to it received by a client on
    this loop. The lane publishes to `hub` (its constructor's `echo`); the hand-over is timed by a text listener
    of the hub, the same public seam the API's fan-out listens on, registered after it."""
    assert lane.controller is not None and lane.pipeline is not None
    server = ApiServer(ApiSection(listen=f"127.0.0.1:{port}"), HealthRegistry("bench"), hub)
    sent_at: list[float] = []

    def note_sent(text: str) -> None:
        if text.startswith('{"type":"session"'):
            sent_at.append(time.perf_counter())

    hub.listen_text(note_sent)
    await server.start()
    to_sent: list[float] = []
    to_received: list[float] = []
    try:
        async with aiohttp.ClientSession() as http, http.ws_connect(f"http://127.0.0.1:{port}/v1/events") as ws:
            for n in range(scans):
                before = len(sent_at)
                started = time.perf_counter()
                change = await lane.scan(code(n % 150))
                assert change is not None and change.ok, change
                while True:
                    message = json.loads((await ws.receive()).data)
                    if message["type"] == "session":
                        break
                to_received.append((time.perf_counter() - started) * 1000)
                to_sent.append((sent_at[before] - started) * 1000)
                if n % 150 == 149:                      # a fresh visit now and then: baskets stay realistic
                    paid = await lane.checkout.pay("simulated")
                    assert paid.ok and lane.view["state"] == "paid", lane.view["prompts"]
                    while True:                         # past the payment's own messages
                        message = json.loads((await ws.receive()).data)
                        if message["type"] == "session" and message["session"]["state"] == "paid":
                            break
    finally:
        await server.stop()
    return to_sent, to_received


def repricing_us(lines: int, rounds: int = 200) -> float:
    session = new_session("bench", 0.0, True)
    for i in range(lines):
        item = BasketLine("", gtin_for(SELLABLE[i]), f"Item {i}", 1 + i % 3, 100 + i % 700, 90 + i % 700 if i % 4 == 0
                          else None, "0.10" if i % 5 == 0 else "0.08", "food", 0)
        session, _ = add_item(session, item)
    started = time.perf_counter()
    for _ in range(rounds):
        price(session, DEFAULT_SESSION, DEFAULT_POINTS)
    return (time.perf_counter() - started) / rounds * 1e6


async def sales_per_second(lane: SessionLane, sales: int) -> float:
    assert lane.controller is not None
    if lane.view["lines"]:
        await lane.checkout.pay("simulated")      # the basket left by the scans before
    started = time.perf_counter()
    for n in range(sales):
        for i in range(10):
            await lane.scan(code(n * 10 + i))
        paid = await lane.checkout.pay("simulated")
        assert paid.ok and len(lane.view["lines"]) == 10, lane.view["prompts"]
    return sales / (time.perf_counter() - started)


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        work = Path(tmp)
        bare = bare_commits(work, 300)
        print(f"baseline: bare durable SQLite commit p50 {pct(bare, 50):.2f} ms, p99 {pct(bare, 99):.2f} ms; "
              f"{1000 / statistics.mean(bare):,.0f} commits/s")
        hub = EventHub()
        lane = await make_lane(work, args.products, hub)
        settle_heap()
        with cloud_on_loopback(work, nice=10) as (broker, _ingest):
            fill_backlog(lane, args.backlog)
            assert lane.lane_db is not None
            section = mqtt_section(broker.port, confirm_timeout_s=30)
            relay = OutboxRelay(lane.lane_db, partial(Publisher, section, "store-001", "lane-01"),
                                delivery="end-to-end", window=100, confirm_timeout_s=30, retention_days=7)
            publisher = relay.publisher
            tasks = [asyncio.create_task(publisher.run(ComponentHealth("mqtt"))),
                     asyncio.create_task(relay.run(ComponentHealth("relay")))]
            sent, received = await scan_to_screen(lane, hub, args.scans, free_port())
            pending = lane.lane_db.reader().execute("SELECT count(*) FROM outbox WHERE state = 0").fetchone()[0]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        print(f"scan to basket updated, its WebSocket message handed to the fan-out ({args.scans} scans, "
              f"{args.products:,}-product catalog, relay draining a {args.backlog:,}-event backlog, {pending:,} still "
              f"pending at the end): "
              f"p50 {pct(sent, 50):.2f} ms, p99 {pct(sent, 99):.2f} ms (target p99 < 5 ms); "
              f"p99 / bare commit p99 = {pct(sent, 99) / pct(bare, 99):.1f}")
        print(f"  ... and received by a client on the same loop: p50 {pct(received, 50):.2f} ms, "
              f"p99 {pct(received, 99):.2f} ms")
        small, large = repricing_us(20), repricing_us(200)
        print(f"re-pricing per scan: 20 lines {small:.0f} us, 200 lines {large:.0f} us (target < 1000 us); "
              f"per line {small / 20:.2f} vs {large / 200:.2f} us: ratio {large / 200 / (small / 20):.2f} "
              "(1.0 = linear; 10 would be quadratic)")
        rate = await sales_per_second(lane, args.sales)
        print(f"completed sales (10 lines each, simulated payment): {rate:.1f} sales/s = {rate * 12:,.0f} durable "
              f"commits/s against {1000 / statistics.mean(bare):,.0f} bare commits/s")
        lane.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=1_000_000)
    parser.add_argument("--scans", type=int, default=500)
    parser.add_argument("--backlog", type=int, default=50_000)
    parser.add_argument("--sales", type=int, default=100)
    parser.add_argument("--dir", default=None, help="where the databases go (default: the system's temp dir)")
    asyncio.run(main_async(parser.parse_args()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
