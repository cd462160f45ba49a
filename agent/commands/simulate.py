"""`omo-edge simulate scanner`: a virtual serial scanner on a pty; print its path, send each typed line as a scan.

Point a dev config at the printed path (`driver = "serial"`, `port = <path>`) and type codes; `!unplug`,
`!replug` and `!garbage` exercise the driver's recovery. Development only: nothing here runs in production.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("simulate", help="run a simulated device for development (scanner)")
    kinds = parser.add_subparsers(dest="device", metavar="DEVICE", required=True)
    scanner = kinds.add_parser("scanner", help="a serial scanner on a pty: type codes, one per line")
    scanner.add_argument("--aim", default="", help="AIM identifier to prefix, e.g. ]E0 (default: none)")
    scanner.add_argument("--suffix", default="cr", choices=("cr", "lf", "crlf"), help="terminator sent")
    scanner.add_argument("--link-dir", default=None, help="directory for the stable symlink (default: a temp dir)")
    scanner.add_argument("--baud", type=int, default=0, help="pace bytes like this baud rate (default: no pacing)")
    scanner.set_defaults(handler=run_scanner)


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
