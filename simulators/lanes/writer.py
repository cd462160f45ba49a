"""A lane in a process: records sales and scans and relays them, for kill -9 and outage tests and the soak.

`python -m simulators.lanes.writer --state-dir D --port P --mode stream` writes a sale every few scans
and prints `sale <sale_id> <seq>` after each commit; `--mode drain` writes nothing and exits 0 once the
outbox holds nothing unconfirmed. The test kills it with SIGKILL at random instants.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from functools import partial
from pathlib import Path

from agent.health import ComponentHealth
from agent.lane_db import open_sync_db
from agent.session.records.sales import record_sale
from agent.session.records.scans import record_scan
from agent.sync import outbox
from agent.sync.mqtt import Publisher
from agent.sync.relay import OutboxRelay
from agent.sync.settings import MqttSection


def sale(n: int) -> dict[str, object]:
    return {"sale_id": str(uuid.uuid4()), "session_id": f"s-{n}", "lines": [{"gtin": "04901234567894",
            "qty": 1, "unit_price": 198, "total": 198}], "discounts": [], "points": 0, "tax": 14, "total": 198,
            "payment": {"method": "simulated", "amount": 198}}


def scan(n: int) -> dict[str, object]:
    return {"device": "handheld", "symbology": "ean13", "text": "4901234567894", "kind": "product",
            "gtin": "04901234567894", "session_id": f"s-{n}", "outcome": "added"}


async def stream(db: object, relay: OutboxRelay, pause_s: float) -> None:
    from agent.store import Database

    assert isinstance(db, Database)
    n = 0
    while True:
        n += 1
        for _ in range(3):
            await db.write(record_scan, scan(n))
        event_id, seq = await db.write(record_sale, sale(n))
        print(f"sale {event_id} {seq}", flush=True)
        relay.wake()
        await asyncio.sleep(pause_s)


async def main_async(args: argparse.Namespace) -> int:
    section = MqttSection(host="127.0.0.1", port=args.port, keepalive_s=args.keepalive,
                          confirm_timeout_s=args.confirm_timeout, client_id=f"lane-writer-{args.lane}",
                          inflight_window=args.window)
    db = await asyncio.to_thread(open_sync_db, Path(args.state_dir) / "lane.db", args.store, args.lane)
    relay = OutboxRelay(db, partial(Publisher, section, args.store, args.lane), window=section.inflight_window,
                        confirm_timeout_s=section.confirm_timeout_s)
    publisher = relay.publisher
    tasks = [asyncio.create_task(publisher.run(ComponentHealth("mqtt"))),
             asyncio.create_task(relay.run(ComponentHealth("relay")))]
    print("started", flush=True)
    try:
        if args.mode == "stream":
            await stream(db, relay, args.pause)
        while True:
            depth = outbox.depth(db.reader())["outbox_depth"]
            if sum(depth.values()) == 0:
                print("drained", flush=True)
                return 0
            await asyncio.sleep(0.05)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        db.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=("stream", "drain"), default="stream")
    parser.add_argument("--store", default="store-001")
    parser.add_argument("--lane", default="lane-01")
    parser.add_argument("--pause", type=float, default=0.002)
    parser.add_argument("--keepalive", type=int, default=5)
    parser.add_argument("--confirm-timeout", type=int, default=2)
    parser.add_argument("--window", type=int, default=100)
    return asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
