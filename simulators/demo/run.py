"""`omo-edge demo`: a whole OMO journey through the real agent on this machine, checked at the end.

The agent runs unchanged (`agent.app.start` on a generated config). Around it run the simulators the tests use
(simulators/demo/world.py): the fake cloud of `omo-edge simulate cloud`, a serial scanner on a real pty, an
overhead camera, a locker and a receipt printer (each sale's receipt drawn to a PNG whose path is printed). A
scripted journey (simulators/demo/script.py) reaches the lane only through real channels, and the terminal shows it
live with rich: the basket, the events, the outbox and what the cloud received. The summary checks every sale
against the cloud and the payment service; the last line starts with `demo: ` and the exit code is 0 only when
everything held.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from agent import app, log
from agent.config import load
from agent.sync import outbox
from simulators.demo.screen import codes_table, journey_seconds, may_wait, typed_code, wait_for_screen
from simulators.demo.script import Expect, Step, journey
from simulators.demo.world import DemoWorld, demo_world

EXPECT_S = 20.0


def yen(amount: int) -> str:
    return f"¥{amount:,}"


class Journey:
    """Runs the steps against the lane and keeps what the screen and the summary need."""

    def __init__(self, world: DemoWorld, lane: app.Lane, console: Console, pace: float) -> None:
        self.world, self.lane, self.console, self.pace = world, lane, console, pace
        self.started = time.monotonic()
        self.first_confirmed: float | None = None       # seconds from the start to the first sale at the cloud
        self.log: list[str] = []
        self.problems: list[str] = []
        self.http: aiohttp.ClientSession | None = None

    # -- what the terminal shows ----------------------------------------------------------------------------

    def say(self, text: str) -> None:
        self.log.append(text)
        self.console.print(text, highlight=False)

    def panel(self) -> Group:
        """The live picture: the basket as the screen shows it, the outbox, and what the cloud holds."""
        view = self.lane.session.view()
        basket = Table(title=f"basket: {view['state']}", expand=True, show_edge=False)
        basket.add_column("item")
        basket.add_column("qty", justify="right")
        basket.add_column("amount", justify="right")
        for line in view["lines"]:
            basket.add_row(line["name"], str(line["quantity"]), yen(line["gross"]))
        for discount in view["discounts"]:
            basket.add_row(f"  {discount['label']}", "", f"-{yen(discount['amount'])}")
        totals = view["totals"]
        basket.add_row("[b]to pay[/b]", "", f"[b]{yen(totals['amount_due'])}[/b]")
        status = Table.grid(padding=(0, 2))
        status.add_row("uplink", "up" if self.uplink() else "[red]down[/red]",
                       "outbox", str(self.waiting()), "cloud holds", str(self.cloud_events()))
        return Group(Panel(basket), status)

    # -- the lane and the cloud -----------------------------------------------------------------------------

    def uplink(self) -> bool:
        return self.lane.health.component("mqtt").state.value == "ok"

    def waiting(self) -> int:
        return int(sum(outbox.depth(self.lane.lane_db.reader())["outbox_depth"].values()))

    def cloud_events(self, schema: str | None = None) -> int:
        """Events the cloud's ingest holds (of one schema)."""
        db = self.world.cloud.ingest_db
        if not db.exists():
            return 0
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            if schema is None:
                return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
            return int(conn.execute("SELECT count(*) FROM events WHERE schema = ?", (schema,)).fetchone()[0])
        except sqlite3.OperationalError:
            return 0
        finally:
            conn.close()

    async def until(self, ready: Callable[[], bool], what: str, timeout_s: float = EXPECT_S) -> bool:
        deadline = time.monotonic() + timeout_s
        while not ready():
            if time.monotonic() > deadline:
                self.problems.append(f"timed out waiting for {what}")
                self.say(f"    [red]! timed out waiting for {what}[/red]")
                return False
            await asyncio.sleep(0.05)
        return True

    async def expect(self, expect: Expect) -> None:
        def met() -> bool:
            view = self.lane.session.view()
            return ((expect.state is None or view["state"] == expect.state)
                    and (expect.prompt is None or any(p["code"] == expect.prompt for p in view["prompts"]))
                    and (expect.lines is None or len(view["lines"]) == expect.lines)
                    and (expect.uplink is None or self.uplink() == expect.uplink))
        await self.until(met, str(expect))

    # -- the steps ------------------------------------------------------------------------------------------

    async def run(self, steps: list[Step]) -> None:
        shown = None
        for number, step in enumerate(steps, start=1):
            if step.visit:
                self.say(f"\n[b]{step.visit}[/b]")
            await asyncio.sleep(self.pace)
            self.say(f"{number:>3}. {step.what}")
            await self.do(step)
            await self.expect(step.expect)
            prompt = next(iter(self.lane.session.view()["prompts"]), None)
            if prompt is not None and prompt != shown:
                self.say(f"      screen: {prompt['message']}")
            shown = prompt
            if step.action in ("cut_uplink", "restore_uplink", "drain") or step.expect.state == "paid":
                self.say(f"      uplink {'up' if self.uplink() else 'down'}; outbox: {self.waiting()} events "
                         f"waiting; the cloud holds {self.cloud_events()} events")

    async def do(self, step: Step) -> None:
        world = self.world
        if step.action == "scan":
            world.scanner.scan(step.code, aim=step.aim or None)
        elif step.action == "camera":
            world.camera.show(step.code, "qr")
            await self.expect(step.expect)
            world.camera.blank()
        elif step.action == "tap":
            assert self.http is not None
            async with self.http.post(f"http://{world.listen}{step.path}", json=step.body) as answer:
                await answer.read()
        elif step.action == "app_pays":
            payment = self.lane.session.view()["payment"] or {}
            code_id = str(payment.get("qr_payload", "")).rsplit("/", 1)[-1]
            assert self.http is not None
            async with self.http.post(f"{world.cloud.payments.url}/sim/codes/{code_id}/pay") as answer:
                self.say(f"      the app: {(await answer.json())['resultInfo']['code']}")
        elif step.action == "cut_uplink" and world.cloud.broker is not None:
            world.cloud.broker.stop()
        elif step.action == "restore_uplink" and world.cloud.broker is not None:
            world.cloud.broker.start()
        elif step.action == "drain":
            # The lane reconnects on its own back-off (1 to 2 s, doubling to 60 s), so after a long cut the
            # next attempt can be a minute away: wait for one full back-off step and the drain after it.
            await self.until(lambda: self.waiting() == 0, "the outbox to drain", 90)

    async def watch_cloud(self) -> None:
        """Note when the cloud first holds a sale (a figure for bench/demo.py)."""
        while self.first_confirmed is None:
            if self.cloud_events("omo.sale/1"):
                self.first_confirmed = time.monotonic() - self.started
            await asyncio.sleep(0.05)

    async def on_events(self) -> None:
        """Each recorded scan and each sale, as the lane reports them."""
        queue = self.lane.hub.subscribe()
        paid: set[str] = set()              # a paid visit is told again by later changes (prompts, timers)
        try:
            while True:
                event = await queue.get()
                if event.get("type") == "scan":
                    reason = f" ({event['reason']})" if event.get("reason") else ""
                    name = event.get("name") or event.get("text", "")
                    self.say(f"      scan via {event['device']}: {event['kind']} {name} -> {event['outcome']}{reason}")
                elif event.get("type") == "session" and event["session"]["state"] == "paid" \
                        and event["session"]["sale_id"] not in paid:
                    session = event["session"]
                    paid.add(session["sale_id"])
                    self.say(f"      [green]PAID {yen(session['totals']['amount_due'])}[/green] "
                             f"(tax {yen(session['totals']['tax'])}), sale {session['sale_id']}")
        finally:
            self.lane.hub.unsubscribe(queue)


def summary(world: DemoWorld, lane: app.Lane, journey_problems: list[str], console: Console) -> bool:
    """Every sale confirmed by the cloud exactly once, with the lane's money, and charged once by the service."""
    reader = lane.lane_db.reader()
    sales = {sid: json.loads(body) for sid, body in reader.execute("SELECT sale_id, body FROM sales")}
    at_cloud: list[dict[str, Any]] = []
    if world.cloud.ingest_db.exists():
        conn = sqlite3.connect(f"file:{world.cloud.ingest_db}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT payload FROM events WHERE schema = 'omo.sale/1'").fetchall()
            at_cloud = [json.loads(payload) for (payload,) in rows]
        finally:
            conn.close()
    received = Counter(sale["sale_id"] for sale in at_cloud)
    cloud_totals = {sale["sale_id"]: sale["total"] for sale in at_cloud}
    service = world.cloud.payments
    problems = list(journey_problems)
    table = Table(title="sales: the lane, the cloud, the payment service")
    for column in ("sale", "lane total", "at the cloud", "cloud total", "charged"):
        table.add_column(column, justify="right" if column != "sale" else "left")
    for sale_id, sale in sales.items():
        payment_id = sale["payment"]["payment_id"]
        charged = service.ledger[payment_id].amount if service.kept(payment_id) else 0
        table.add_row(sale_id[:12] + "…", yen(sale["total"]), f"{received[sale_id]}x",
                      yen(cloud_totals.get(sale_id, 0)), yen(charged))
        if received[sale_id] != 1:
            problems.append(f"sale {sale_id} is at the cloud {received[sale_id]} times")
        if cloud_totals.get(sale_id) != sale["total"]:
            problems.append(f"sale {sale_id}: the cloud has {cloud_totals.get(sale_id)}, the lane {sale['total']}")
        if charged != sale["amount_due"] or service.charged(payment_id) != 1:
            problems.append(f"sale {sale_id}: charged {charged} ({service.charged(payment_id)} times) for "
                            f"{sale['amount_due']}")
    kept = {pid for pid in service.ledger if service.kept(pid)}
    problems += [f"payment {pid} charged with no sale" for pid in kept - {s["payment"]["payment_id"]
                                                                       for s in sales.values()}]
    waiting = int(sum(outbox.depth(reader)["outbox_depth"].values()))
    if waiting:
        problems.append(f"{waiting} events still wait in the outbox")
    console.print(table)
    total = sum(sale["total"] for sale in sales.values())
    if len(sales) < 3:
        problems.append(f"only {len(sales)} sales were made")
    pngs = list(world.printer.pngs)
    for png in pngs:
        console.print(f"receipt printed: {png}")
    if len(pngs) < len(sales):
        problems.append(f"{len(sales)} sales but {len(pngs)} receipts printed")
    if problems:
        for problem in problems:
            console.print(f"[red]- {problem}[/red]")
        print(f"demo: FAILED, {len(problems)} problem(s): {problems[0]}", flush=True)
        return False
    print(f"demo: OK, {len(sales)} sales ({yen(total)}) confirmed by the cloud exactly once each with the lane's "
          "money, each charged once, the offline sale's backlog drained, each receipt printed", flush=True)
    return True


async def interactive(world: DemoWorld, console: Console) -> None:
    """Keep the lane open: each typed line is scanned by the pty scanner, until Ctrl-C or end of input."""
    console.print()
    console.print(codes_table())
    console.print(f"\nthe lane stays open: type a code and Enter to scan it; the screen is http://{world.listen}/ "
                  "(Ctrl-C ends)")
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def readable() -> None:
        line = sys.stdin.readline()
        lines.put_nowait(line if line else None)

    loop.add_reader(sys.stdin.fileno(), readable)
    try:
        while (line := await lines.get()) is not None:
            if line.strip():
                code, aim = typed_code(line, world.cloud.issuer)
                world.scanner.scan(code, aim=aim)
    finally:
        loop.remove_reader(sys.stdin.fileno())


async def run_demo(args: argparse.Namespace) -> int:
    console = Console(highlight=False, soft_wrap=True)
    with tempfile.TemporaryDirectory(prefix="omo-edge-demo-") as tmp:
        async with demo_world(Path(tmp), screen_language=args.language) as world:
            config = load(world.config_path)
            log.setup(config.agent.log_level, config.agent.log_format)
            console.print("[b]omo-edge demo[/b]: the real agent, with simulated surroundings")
            language = {"ja": "Japanese", "en": "English"}[args.language]
            console.print(f"  screen    http://{world.listen}/   (open it in a browser to watch the shopper's screen; "
                          f"{language}: \\[api] screen_language, --language to change)")
            broker = f"mqtt://127.0.0.1:{world.cloud.broker.port}" if world.cloud.broker else "none (no mosquitto)"
            console.print(f"  scanner   {world.scanner.path} (a real pty)\n  camera    {world.camera.source}\n"
                          f"  broker    {broker}\n  catalog   {world.cloud.catalog.url}\n"
                          f"  payments  {world.cloud.payments.url}\n")
            started = time.monotonic()
            lane = await app.start(config)
            run = Journey(world, lane, console, args.pace)
            run.started = started
            printer = asyncio.create_task(run.on_events())
            watcher = asyncio.create_task(run.watch_cloud())
            ok = False
            try:
                async with aiohttp.ClientSession() as run.http:
                    ready = await run.until(lambda: all(
                        lane.health.component(c).state.value == "ok" for c in ("device:handheld", "device:overhead",
                                                                               "mqtt", "catalog")), "the lane", 30)
                    ready_s = time.monotonic() - started
                    if ready:
                        console.print(f"lane ready: catalog version {lane.catalog.status().version}, scanner, camera "
                                      f"and uplink up, {ready_s:.1f} s after start")
                    steps = journey(world.cloud.issuer)
                    url = f"http://{world.listen}/"
                    if may_wait(args.no_wait, args.wait_s):
                        await wait_for_screen(lambda: lane.api.fanout.clients, url, args.wait_s, console)
                    else:
                        console.print(f"the journey takes about {journey_seconds(len(steps), args.pace):.0f} s: open "
                                      f"{url} now to watch it (in a terminal the demo waits for it)")
                    live = Live(run.panel(), console=console, auto_refresh=False) if console.is_terminal else None
                    with live or contextlib.nullcontext():
                        refresher = asyncio.create_task(_refresh(live, run)) if live else None
                        await run.run(steps)
                        if refresher:
                            refresher.cancel()
                    first = "never" if run.first_confirmed is None else f"{run.first_confirmed:.1f} s"
                    console.print(f"timing: lane ready {ready_s:.1f} s, first sale confirmed by the cloud {first}, "
                                  f"journey done {time.monotonic() - started:.1f} s after the agent started")
                    ok = summary(world, lane, run.problems, console)
                    if args.interactive:
                        with contextlib.suppress(asyncio.CancelledError):
                            await interactive(world, console)
            finally:
                printer.cancel()
                watcher.cancel()
                await app.stop(lane)
    return 0 if ok else 1


async def _refresh(live: Live | None, run: Journey) -> None:
    while live is not None:
        live.update(run.panel(), refresh=True)
        await asyncio.sleep(0.25)
