"""`omo-edge simulate scanner|cloud|fleet`: simulators for development, beside a real or a dev lane.

`scanner`: a virtual serial scanner on a pty; point a dev config at the printed path (`driver = "serial"`,
`port = <path>`) and type codes; `!unplug`, `!replug` and `!garbage` exercise the driver's recovery.
`cloud`: the fake cloud (broker, ingest, catalog server, token issuer, payment service); it prints its URLs
and the config that points a lane at it, and runs until Ctrl-C.
`fleet`: N virtual lanes (the agent's own sync code) against a broker, for sizing a cloud (docs/scaling.md).
Development only: nothing here runs in production.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("simulate", help="run a simulator for development (scanner, cloud, fleet)")
    kinds = parser.add_subparsers(dest="device", metavar="DEVICE", required=True)
    scanner = kinds.add_parser("scanner", help="a serial scanner on a pty: type codes, one per line")
    scanner.add_argument("--aim", default="", help="AIM identifier to prefix, e.g. ]E0 (default: none)")
    scanner.add_argument("--suffix", default="cr", choices=("cr", "lf", "crlf"), help="terminator sent")
    scanner.add_argument("--link-dir", default=None, help="directory for the stable symlink (default: a temp dir)")
    scanner.add_argument("--baud", type=int, default=0, help="pace bytes like this baud rate (default: no pacing)")
    scanner.set_defaults(handler=run_scanner)
    cloud = kinds.add_parser("cloud", help="the fake cloud: broker, ingest, catalog, tokens, payment service")
    cloud.add_argument("--dir", default=None, help="directory for its files (default: a temp dir)")
    cloud.add_argument("--store", default="store-001", help="the store ID of the lane it serves")
    cloud.add_argument("--lane", default="lane-01", help="the lane ID it serves")
    cloud.set_defaults(handler=run_cloud)
    fleet = kinds.add_parser("fleet", help="N virtual lanes against a broker: throughput, confirmation latency")
    from simulators.fleet.cli import add_arguments

    add_arguments(fleet)
    fleet.set_defaults(handler=run_fleet)


def run_fleet(args: argparse.Namespace) -> int:
    from simulators.fleet.cli import run

    return run(args)


def run_cloud(args: argparse.Namespace) -> int:
    import asyncio
    import contextlib
    import tempfile
    from pathlib import Path

    from simulators.cloud.fake_cloud import fake_cloud

    async def serve(workdir: Path) -> None:
        async with fake_cloud(workdir, store_id=args.store, lane_id=args.lane) as cloud:
            broker = f"mqtt://127.0.0.1:{cloud.broker.port}" if cloud.broker else "none (mosquitto not installed)"
            print(f"fake cloud for {args.store}/{args.lane} in {workdir}", flush=True)
            print(f"  broker          {broker}\n  catalog         {cloud.catalog.url}\n"
                  f"  payment service {cloud.payments.url} (the app pays a shown QR: POST "
                  f"{cloud.payments.url}/sim/codes/<codeId>/pay)\n  ingest          {cloud.ingest_db}\n", flush=True)
            print("# agent.toml: point a lane at this cloud\n" + cloud.config_snippet(), flush=True)
            print("Ctrl-C stops it.", flush=True)
            await asyncio.Event().wait()

    with contextlib.ExitStack() as stack:
        workdir = Path(args.dir) if args.dir else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(workdir))
    return 0


def run_scanner(args: argparse.Namespace) -> int:
    from simulators.devices.serial_pty import VirtualSerialScanner

    suffix = {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n"}[args.suffix]
    with VirtualSerialScanner(suffix=suffix, baudrate=args.baud or None, link_dir=args.link_dir) as sim:
        print(f"virtual scanner at {sim.path} (pty {sim.slave_path})", flush=True)
        print(f'config: driver = "serial", port = "{sim.path}", terminator = "{args.suffix}"', flush=True)
        print("type a code and Enter; !garbage, !unplug, !replug; Ctrl-D ends", flush=True)
        for line in sys.stdin:
            _command(sim, line.rstrip("\r\n"), args.aim or None)
    return 0


def _command(sim: object, line: str, aim: str | None) -> None:
    from simulators.devices.serial_pty import VirtualSerialScanner

    assert isinstance(sim, VirtualSerialScanner)
    if line == "!garbage":
        sim.garbage()
    elif line == "!unplug":
        sim.unplug()
    elif line == "!replug":
        sim.replug()
        print(f"replugged: {sim.path} -> {sim.slave_path}", flush=True)
    elif line:
        try:
            sim.scan(line.replace("\\x1d", "\x1d").replace("<GS>", "\x1d"), aim=aim)
        except OSError as exc:
            print(f"not sent ({exc})", flush=True)
