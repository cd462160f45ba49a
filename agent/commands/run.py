"""`omo-edge run`: the daemon in the foreground (systemd's ExecStart)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from agent import config as config_module
from agent import log
from agent.errors import StartupError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("run", help="run the agent in the foreground (systemd ExecStart)")
    parser.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="config file")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run until stopped; an expected start-up failure is one line on stderr (the journal) and exit 1."""
    from agent.app import run
    from agent.sync.tls_files import check_tls_files

    config = config_module.load(config_module.resolve_path(args.config))
    check_tls_files(config.mqtt, str(config.path))
    log.setup(config.agent.log_level, config.agent.log_format)
    try:
        return asyncio.run(run(config))
    except StartupError as exc:
        print(f"omo-edge: cannot start: {exc}", file=sys.stderr)
        return 1
