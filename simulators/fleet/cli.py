"""`omo-edge simulate fleet`: run N virtual lanes, show progress, drain, check every stream, print a summary.

Without `--broker`, it starts its own cloud on this machine (mosquitto and `--ingests` reference ingests);
with one, it runs against that broker, and checks the streams when `--ingest-db` says where the ingest
writes. Exit status 0 only when every lane drained and the ingest holds every lane's seqs once, gap-free.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

from agent.sync.settings import MqttSection
from simulators.fleet.cloud import local_cloud
from simulators.fleet.fleet import Fleet, FleetPlan
from simulators.fleet.ingest_view import held_by_stream
from simulators.fleet.stats import Window
from simulators.fleet.traffic import Rate


def run(args: argparse.Namespace) -> int:
    # Each lane's health logs its own "connection lost"; N of them at a broker restart hide the progress.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    with contextlib.ExitStack() as stack:
        root = Path(args.state_dir) if args.state_dir else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        database = args.ingest_db
        if args.broker:
            host, _, port = args.broker.rpartition(":")
        else:
            cloud = stack.enter_context(local_cloud(root / "cloud", ingests=args.ingests, database=database))
            host, port, database = cloud.broker.host, str(cloud.broker.port), cloud.database
            print(f"fleet: mosquitto on {host}:{port}, {args.ingests} ingest(s) writing {database}", flush=True)
        plan = FleetPlan(lanes=args.lanes, state_root=root / "lanes", lanes_per_store=args.lanes_per_store,
                         rate=Rate(args.sales_per_minute, args.scans_per_sale), seed=args.seed,
                         first_store=args.first_store)
        section = MqttSection(host=host or "127.0.0.1", port=int(port), inflight_window=args.inflight_window,
                              max_publish_rate=args.max_publish_rate, tls=args.ca_file is not None,
                              ca_file=args.ca_file, cert_file=args.cert_file, key_file=args.key_file,
                              server_name=args.server_name)
        with contextlib.suppress(KeyboardInterrupt):
            return asyncio.run(_run(plan, section, args, database))
    return 130


async def _run(plan: FleetPlan, section: MqttSection, args: argparse.Namespace, database: str | None) -> int:
    fleet = Fleet(plan, section)
    rate = plan.rate
    print(f"fleet: {plan.lanes} lanes in {-(-plan.lanes // plan.lanes_per_store)} stores, {rate.sales_per_minute:g} "
          f"sale(s) per lane per minute of {rate.scans_per_sale} scans: {rate.events_per_second(plan.lanes):.1f} "
          "events/s expected", flush=True)
    display = Display(plan.lanes)
    try:
        await fleet.open()
        connected_in = await fleet.wait_connected(60 + plan.lanes / 50)
        print(f"fleet: all {plan.lanes} lanes connected in {connected_in:.1f} s", flush=True)
        fleet.stats.measure_from = asyncio.get_running_loop().time() + min(rate.period_s, args.duration / 2)
        fleet.start_shopping()
        with display:
            await fleet.watch(args.duration, args.window, display.show)
        await fleet.stop_shopping()
        drained_in = await fleet.drain(args.drain_timeout)
    finally:
        await fleet.close()
    stats = fleet.stats
    problems = fleet.problems(held_by_stream(database)) if database else []
    p50, p99 = stats.p(50), stats.p(99)
    sales = sum(lane.sales for lane in fleet.lanes)
    print(f"fleet: {fleet.recorded()} events recorded by {plan.lanes} lanes, {sales} sales; drained "
          f"{drained_in:.1f} s after the last visit", flush=True)
    if p50 is not None and p99 is not None:
        print(f"fleet: confirmation after warm-up: {len(stats.latencies)} events, p50 {p50 * 1000:.0f} ms, "
              f"p99 {p99 * 1000:.0f} ms", flush=True)
    if not database:
        print("fleet: streams not checked (give --ingest-db to check them against the ingest)", flush=True)
    for problem in problems[:20]:
        print(f"fleet: GAP {problem}", flush=True)
    verdict = "OK" if not problems else f"FAILED, {len(problems)} lanes with gaps or duplicates"
    print(f"fleet: {verdict}", flush=True)
    return 0 if not problems else 1


class Display:
    """A live table on a terminal (rich), one plain line per window otherwise (CI logs, pipes)."""

    def __init__(self, lanes: int) -> None:
        self.lanes = lanes
        self._live: Any = None

    def __enter__(self) -> Display:
        if sys.stdout.isatty():
            from rich.live import Live

            self._live = Live(self._table([]), refresh_per_second=2)
            self._live.__enter__()
        self._rows: list[Window] = []
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    def show(self, window: Window) -> None:
        if self._live is None:
            print(f"fleet: {window.line()}", flush=True)
            return
        self._rows = (self._rows + [window])[-12:]
        self._live.update(self._table(self._rows))

    def _table(self, rows: list[Window]) -> Any:
        from rich.table import Table

        table = Table(title=f"omo-edge fleet: {self.lanes} lanes")
        for column in ("time", "connected", "recorded/s", "confirmed/s", "backlog", "p50", "p99"):
            table.add_column(column, justify="right")
        for w in rows:
            table.add_row(f"{w.elapsed_s:.0f} s", f"{w.connected}/{w.lanes}", f"{w.recorded / w.seconds:.1f}",
                          f"{w.confirmed_per_s:.1f}", str(w.backlog), _ms(w.p50_s), _ms(w.p99_s))
        return table


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms"
