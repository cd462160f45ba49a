"""`omo-edge demo`: a whole lane on this machine, so anyone can watch a shopper's visit go through it.

The agent runs unchanged (`agent.app.start` on a generated config); only its surroundings are simulated, by
the same simulators the tests use: a serial scanner on a real pty, mosquitto, the cloud's reference ingest
(which confirms each event end to end), the catalog server and the cloud's token issuer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from agent import app, log
from agent.config import load
from agent.sync import outbox

ZERO_DECIMAL_CURRENCIES = {"JPY", "KRW", "VND", "CLP", "ISK"}


def money(amount: int, currency: str) -> str:
    if currency in ZERO_DECIMAL_CURRENCIES:
        return f"{amount:,} {currency}"
    return f"{amount / 100:,.2f} {currency}"


def describe(event: dict[str, Any], currency: str) -> str:
    """One line for a recorded scan, as the kiosk screen would say it."""
    kind, outcome = event.get("kind"), event.get("outcome")
    if kind == "product" and event.get("name"):
        what = event["name"]
        if "price" in event:
            what += f"  {money(event['price'], currency)}"
        if event.get("member_price") is not None:
            what += f" (member {money(event['member_price'], currency)})"
    elif kind == "member":
        what = f"member {event.get('member_id')}" + (f" ({event['tier']}, {event['points']} points)"
                                                     if "tier" in event else "")
    else:
        what = f"{kind} {event.get('text', '')}"
    reason = f" ({event['reason']})" if event.get("reason") else ""
    return f"      {what:<58} {outcome}{reason}  [recorded, seq {event.get('seq')}]"


async def print_events(lane: app.Lane, currency: str) -> None:
    queue = lane.hub.subscribe()
    try:
        while True:
            event = await queue.get()
            if event.get("type") == "scan":
                print(describe(event, currency), flush=True)
            elif event.get("type") == "session" and event["session"]["state"] == "paid":
                totals = event["session"]["totals"]
                print(f"      PAID {money(totals['total'], currency)} (tax {money(totals['tax'], currency)}), "
                      f"sale {event['session']['sale_id']}", flush=True)
            elif event.get("type") == "scan_refused":
                print(f"      NOT RECORDED: {event['detail']}", flush=True)
    finally:
        lane.hub.unsubscribe(queue)


async def run_demo(args: argparse.Namespace) -> int:
    from simulators.demo_world import demo_world, shopper_steps

    with tempfile.TemporaryDirectory(prefix="omo-edge-demo-") as tmp:
        async with demo_world(Path(tmp)) as world:
            config = load(world.config_path)
            log.setup(config.agent.log_level, config.agent.log_format)
            lane = await app.start(config)
            _print_intro(world, config.api.listen)
            printer = asyncio.create_task(print_events(lane, config.agent.currency))
            try:
                await _wait_for(lane, lambda: lane.health.component("device:handheld").state == "ok"
                                and lane.catalog.status().loaded, 20)
                print(f"lane ready: catalog version {lane.catalog.status().version} loaded over HTTP\n", flush=True)
                for number, step in enumerate(shopper_steps(world.issuer, dt.date.today()), start=1):
                    await asyncio.sleep(args.pace)
                    print(f"{number:>3}. {step.what}", flush=True)
                    world.scanner.scan(step.code, aim=step.aim)
                await asyncio.sleep(max(args.pace, 0.5))
                await _report_cloud(world, lane)
                if args.seconds:
                    await asyncio.sleep(args.seconds)
                print(f"health: {lane.health.summary()}", flush=True)
            finally:
                printer.cancel()
                await app.stop(lane)
    return 0


def _print_intro(world: Any, listen: str) -> None:
    broker = f"mosquitto on 127.0.0.1:{world.broker.port}" if world.broker else "no broker (mosquitto missing)"
    print("omo-edge demo: the real agent, with simulated surroundings", flush=True)
    print(f"  scanner   {world.scanner.path} (a real pty)\n  broker    {broker}\n"
          f"  catalog   {world.catalog.url}\n  local API http://{listen}/v1/health\n", flush=True)


async def _report_cloud(world: Any, lane: app.Lane) -> None:
    """Say what the cloud holds: every event, once, in seq order, or what is still waiting and why."""
    from simulators.cloud.ingest import check
    from simulators.demo_world import LANE, STORE
    from simulators.sync_checks import wait_until

    if world.broker is None:
        print("\ncloud: no broker here, so every event waits in the outbox (lane.db) for the uplink", flush=True)
        return

    stream = outbox.stream_id(lane.lane_db.reader())

    def lane_report() -> dict[str, Any]:
        return check(world.ingest_db).get((STORE, LANE, stream), {}) if world.ingest_db.exists() else {}

    total = int(lane.lane_db.reader().execute("SELECT last_seq FROM outbox_lane").fetchone()[0])
    def waiting() -> int:
        return int(sum(outbox.depth(lane.lane_db.reader())["outbox_depth"].values()))

    with contextlib.suppress(TimeoutError):   # then the report below says what is still missing
        await wait_until(lambda: lane_report().get("events", 0) >= total and waiting() == 0, timeout_s=15)
    report = lane_report()
    print(f"\ncloud: the ingest holds {report.get('events', 0)} of {total} events from this lane, "
          f"seq 1..{report.get('max_seq', 0)}, gaps {report.get('gaps', [])}", flush=True)
    print(f"lane:  {waiting()} events still waiting for the cloud's confirmation in lane.db's outbox", flush=True)


async def _wait_for(lane: app.Lane, ready: Any, timeout_s: float) -> None:
    """Wait for the lane's own health to say `ready()`, woken by each health change."""
    changed = asyncio.Event()
    lane.health.listeners.append(lambda _health: changed.set())
    async with asyncio.timeout(timeout_s):
        while not ready():
            changed.clear()
            try:
                async with asyncio.timeout(0.5):
                    await changed.wait()
            except TimeoutError:
                continue
