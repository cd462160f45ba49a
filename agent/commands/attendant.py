"""`omo-edge attendant`: the store's attendant station (the staff page over HTTPS, commands to the lanes).

It reads its own file (default /etc/omo-edge/attendant.toml, config/attendant.example.toml), not the lane's.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("attendant", help="run the store's attendant station (staff page, remote approvals)")
    parser.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="station config file (default /etc/omo-edge/attendant.toml)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import asyncio
    from pathlib import Path

    from agent import log
    from agent.errors import StartupError
    from agent.station import service, settings

    path = Path(getattr(args, "config", None) or settings.DEFAULT_PATH)
    loaded = settings.load(path)
    log.setup(loaded.station.log_level, loaded.station.log_format)
    try:
        asyncio.run(service.serve(loaded))
    except StartupError as exc:
        print(f"omo-edge attendant: {exc}", file=sys.stderr)
        return 1
    return 0
