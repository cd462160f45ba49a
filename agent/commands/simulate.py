"""`omo-edge simulate scanner|light|scale|printer|cloud|fleet`: simulators for development, beside a real or a dev
lane.

`scanner`: a virtual serial scanner on a pty; point a dev config at the printed path (`driver = "serial"`,
`port = <path>`) and type codes; `!unplug`, `!replug` and `!garbage` exercise the driver's recovery.
`light`: a lane light (a USB-serial relay board, or a Delcom HID light) on a pty; point `[attendant] light` at
the printed path and watch the colours it is told to show, printed as they change; `!unplug`, `!replug`.
`scale`: a scale (Toledo 8217, SCP-01 in its SMA or NCI layout, CAS PD-II or a HID POS scale) on a pty; point
the scale's options at the printed path and move items: `place 350` and `lift 350` (grams), `off 350` (placed
partly off the platter), `vibrate`, `zero`, `!unplug`, `!replug`, `!garbage`.
`printer`: an ESC/POS receipt printer on a pty (`--serial`, the default) or on TCP 127.0.0.1 (`--network`); it
parses what the driver sends, prints each receipt's text, QR payloads and barcodes as it is cut, and with
`--png-dir` draws it to a PNG there. Knobs typed on stdin: `near-end`, `paper-out N` (after N more lines),
`cover-open`, `cover-closed`, `offline`, `online`, `load-paper`, `!unplug`, `!replug`; `--baud` paces a slow line.
`cloud`: the fake cloud (broker, ingest, catalog server, token issuer, payment service); it prints its URLs
and the config that points a lane at it, and runs until Ctrl-C.
`fleet`: N virtual lanes (the agent's own sync code) against a broker, for sizing a cloud (docs/scaling.md).
Development only: nothing here runs in production.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("simulate", help="run a simulator for development (scanner, light, scale, printer, "
                                           "cloud, fleet)")
    kinds = parser.add_subparsers(dest="device", metavar="DEVICE", required=True)
    scanner = kinds.add_parser("scanner", help="a serial scanner on a pty: type codes, one per line")
    scanner.add_argument("--aim", default="", help="AIM identifier to prefix, e.g. ]E0 (default: none)")
    scanner.add_argument("--suffix", default="cr", choices=("cr", "lf", "crlf"), help="terminator sent")
    scanner.add_argument("--link-dir", default=None, help="directory for the stable symlink (default: a temp dir)")
    scanner.add_argument("--baud", type=int, default=0, help="pace bytes like this baud rate (default: no pacing)")
    scanner.set_defaults(handler=run_scanner)
    light = kinds.add_parser("light", help="a lane light on a pty: prints the colours as the driver sets them")
    light.add_argument("--kind", default="relay", choices=("relay", "hid"),
                       help="relay: a USB-serial relay board (relay_serial); hid: a Delcom HID light (hid_light)")
    light.add_argument("--link-dir", default=None, help="directory for the stable symlink (default: a temp dir)")
    light.set_defaults(handler=run_light)
    scale = kinds.add_parser("scale", help="a scale on a pty: `place 350` and `lift 350` (grams) move items")
    scale.add_argument("--protocol", default="toledo", choices=("toledo", "scp01", "nci", "cas", "hid"),
                       help="toledo: Toledo 8217 (toledo8217); scp01: SCP-01, SMA layout (scp01); nci: SCP-01, "
                            "NCI layout (scp01, format nci); cas: CAS PD-II (cas_pd2); hid: a HID POS scale, a "
                            "pty standing in for hidraw (hid_scale)")
    scale.add_argument("--link-dir", default=None, help="directory for the stable symlink (default: a temp dir)")
    scale.add_argument("--seed", type=int, default=0, help="seed of the platter's noise (default 0)")
    scale.set_defaults(handler=run_scale)
    printer = kinds.add_parser("printer", help="an ESC/POS receipt printer: prints each receipt as it is cut")
    link = printer.add_mutually_exclusive_group()
    link.add_argument("--serial", dest="network", action="store_false",
                      help="on a pty: driver escpos_serial (or a USB printer's pipe) (default)")
    link.add_argument("--network", dest="network", action="store_true",
                      help="on TCP 127.0.0.1 (a free port): driver escpos_network")
    printer.add_argument("--png-dir", default=None, help="draw each receipt to a PNG in this directory")
    printer.add_argument("--paper-mm", type=int, default=80, choices=(58, 80), help="paper width (default 80)")
    printer.add_argument("--baud", type=int, default=0, help="pace bytes like this baud rate (default: no pacing)")
    printer.add_argument("--link-dir", default=None, help="directory for the stable symlink (default: a temp dir)")
    printer.set_defaults(handler=run_printer)
    cloud = kinds.add_parser("cloud", help="the fake cloud: broker, ingest, catalog, tokens, payment service")
    cloud.add_argument("--dir", default=None, help="directory for its files (default: a temp dir)")
    cloud.add_argument("--store", default="store-001", help="the store ID of the lane it serves")
    cloud.add_argument("--lane", default="lane-01", help="the lane ID it serves")
    cloud.set_defaults(handler=run_cloud)
    fleet = kinds.add_parser("fleet", help="N virtual lanes against a broker: throughput, confirmation latency")
    add_fleet_arguments(fleet)
    fleet.set_defaults(handler=run_fleet)


def add_fleet_arguments(parser: argparse.ArgumentParser) -> None:
    """The fleet's options, defined here so that building the parser imports no simulator (the fleet loads
    only when `simulate fleet` runs)."""
    parser.add_argument("--lanes", type=int, required=True, help="virtual lanes in this process")
    parser.add_argument("--lanes-per-store", type=int, default=8, help="lanes grouped per store ID (default 8)")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of shopping (default 120)")
    parser.add_argument("--sales-per-minute", type=float, default=1.0, help="per lane (default 1)")
    parser.add_argument("--scans-per-sale", type=int, default=20, help="product scans per visit (default 20)")
    parser.add_argument("--broker", default=None,
                        help="host:port of an existing broker (default: start mosquitto and an ingest here)")
    parser.add_argument("--ingests", type=int, default=1, help="ingest processes when the fleet starts its own")
    parser.add_argument("--ingest-db", default=None,
                        help="the ingest's SQLite file or postgresql:// DSN (checked after the run; with no "
                             "--broker, the ingests write it: default a SQLite file in the state dir)")
    parser.add_argument("--state-dir", default=None, help="where the lanes' lane.db files go (default: temp)")
    parser.add_argument("--window", type=float, default=5.0, help="seconds per progress line (default 5)")
    parser.add_argument("--inflight-window", type=int, default=100,
                        help="QoS 1 publishes in flight per lane (AWS IoT Core allows 100)")
    parser.add_argument("--max-publish-rate", type=int, default=0,
                        help="publishes a second per lane at most (AWS IoT Core: 100); 0: no limit")
    parser.add_argument("--ca-file", type=Path, help="TLS: the broker's CA (with --cert-file and --key-file, the one "
                        "client certificate every lane presents: the broker's ACL must allow it every lane's topics)")
    parser.add_argument("--cert-file", type=Path)
    parser.add_argument("--key-file", type=Path)
    parser.add_argument("--server-name", help="TLS: the name the broker's certificate must carry")
    parser.add_argument("--drain-timeout", type=float, default=120.0, help="seconds to wait for the backlog")
    parser.add_argument("--first-store", type=int, default=1,
                        help="number of the first store (store-0001): fleets in several processes take separate ranges")
    parser.add_argument("--seed", type=int, default=1)


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


def run_light(args: argparse.Namespace) -> int:
    import time

    from simulators.devices.light import Lamp, VirtualHidLight, VirtualRelayBoard

    start = time.monotonic()

    def changed(lamp: Lamp) -> None:
        colours = ", ".join(sorted(lamp.lit)) or "dark"
        flashing = f" (flashing by itself: {', '.join(sorted(lamp.flashing))})" if lamp.flashing else ""
        print(f"{lamp.at - start:9.3f} s  {colours}{flashing}", flush=True)

    sim = (VirtualRelayBoard(link_dir=args.link_dir, on_change=changed) if args.kind == "relay"
           else VirtualHidLight(link_dir=args.link_dir, on_change=changed))
    driver, key = ("relay_serial", "port") if args.kind == "relay" else ("hid_light", "path")
    with sim:
        print(f"virtual {args.kind} light at {sim.path} (pty {sim.slave_path})", flush=True)
        print(f'config: [attendant] light = {{ driver = "{driver}", {key} = "{sim.path}" }}', flush=True)
        print("the colours print as they change; !unplug, !replug; Ctrl-D ends", flush=True)
        for line in sys.stdin:
            if line.strip() == "!unplug":
                sim.unplug()
            elif line.strip() == "!replug":
                sim.replug()
                print(f"replugged: {sim.path} -> {sim.slave_path}", flush=True)
    return 0


def run_printer(args: argparse.Namespace) -> int:
    from simulators.devices.printer import PrintedReceipt, VirtualNetworkPrinter, VirtualSerialPrinter

    def cut(receipt: PrintedReceipt, png: Path | None) -> None:
        print(f"--- receipt cut ({len(receipt.text_lines)} lines, {receipt.images} images)", flush=True)
        for line in receipt.text_lines:
            print(f"  {line}", flush=True)
        for payload in receipt.qr_payloads:
            print(f"  [QR] {payload}", flush=True)
        for symbology, data in receipt.barcodes:
            print(f"  [{symbology}] {data}", flush=True)
        if png is not None:
            print(f"  png: {png}", flush=True)

    common = {"baud": args.baud, "png_dir": args.png_dir, "paper_mm": args.paper_mm, "on_receipt": cut}
    sim = VirtualNetworkPrinter(**common) if args.network else VirtualSerialPrinter(link_dir=args.link_dir, **common)
    with sim:
        driver = "escpos_network" if args.network else "escpos_serial"
        options = ", ".join(f'{key} = {value!r}'.replace("'", '"') for key, value in sim.options.items())
        where = f"127.0.0.1:{sim.options['port']}" if args.network else f"{sim.options['port']}"
        print(f"virtual printer at {where}", flush=True)
        print(f'config: printer = {{ driver = "{driver}", {options} }}', flush=True)
        print("near-end, paper-out N, cover-open, cover-closed, offline, online, load-paper, !unplug, !replug; "
              "Ctrl-D ends", flush=True)
        for line in sys.stdin:
            print(_printer_command(sim, line.split()), flush=True)
    return 0


def _printer_command(sim: object, words: list[str]) -> str:
    """Do one typed knob to the printer; what to print back."""
    from simulators.devices.printer import VirtualNetworkPrinter, VirtualSerialPrinter

    assert isinstance(sim, VirtualSerialPrinter | VirtualNetworkPrinter)
    match words:
        case ["near-end"]:
            sim.set_fault(near_end=True)
        case ["paper-out", lines] if lines.isdigit():
            sim.set_fault(paper_out_after=sim.machine.lines_printed + int(lines))
        case ["cover-open" | "cover-closed" as verb]:
            sim.set_fault(cover_open=verb == "cover-open")
        case ["offline" | "online" as verb]:
            sim.set_fault(offline=verb == "offline")
        case ["load-paper"]:
            sim.load_paper()
        case ["!unplug"]:
            sim.unplug()
        case ["!replug"]:
            sim.replug()
        case []:
            return ""
        case _:
            return f"not understood: {' '.join(words)} (near-end, paper-out 5, cover-open, load-paper, !unplug)"
    m = sim.machine
    state = [name for name, on in (("near end", m.near_end), ("paper out", m.paper_out),
                                   ("cover open", m.cover_open), ("offline", m.offline)) if on]
    return f"printer: {', '.join(state) or 'ready'}"


def run_scale(args: argparse.Namespace) -> int:
    from simulators.devices.scale import VirtualScale

    sim = VirtualScale(args.protocol, seed=args.seed, link_dir=args.link_dir)
    with sim:
        options = ", ".join(f'{key} = "{value}"' for key, value in sim.options.items())
        print(f"virtual {args.protocol} scale at {sim.path} (pty {sim.slave_path})", flush=True)
        print(f'config: scale = {{ driver = "{sim.driver}", {options} }}', flush=True)
        print("place G, lift G, off G (grams), vibrate, zero, !unplug, !replug, !garbage; Ctrl-D ends", flush=True)
        for line in sys.stdin:
            print(_scale_command(sim, line.split()), flush=True)
    return 0


def _scale_command(sim: object, words: list[str]) -> str:
    """Do one typed command to the scale; what to print back."""
    from simulators.devices.scale import VirtualScale

    assert isinstance(sim, VirtualScale)
    match words:
        case ["place" | "lift" | "off" as verb, grams] if grams.replace(".", "", 1).isdigit():
            mass_mg = round(float(grams) * 1000)
            if verb == "lift":
                sim.lift(mass_mg)
            else:
                sim.place(mass_mg, on_platter=0.8 if verb == "off" else 1.0)
        case ["vibrate"]:
            sim.vibrate(2.0, 30_000)
        case ["zero"]:
            sim.zero()
        case ["!unplug"]:
            sim.unplug()
        case ["!replug"]:
            sim.replug()
            return f"replugged: {sim.path} -> {sim.slave_path}"
        case ["!garbage"]:
            sim.garbage()
        case []:
            return ""
        case _:
            return f"not understood: {' '.join(words)} (place 350, lift 350, off 350, vibrate, zero, !unplug)"
    shown = sim.sample()
    flags = [n for n in ("motion", "under_zero", "over_capacity", "needs_zeroing") if getattr(shown, n)]
    return f"now {shown.weight_mg / 1000:g} g" + (f" ({', '.join(flags)})" if flags else "")


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
