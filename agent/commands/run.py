"""`omo-edge run`: the daemon in the foreground (systemd's ExecStart)."""

from __future__ import annotations

import argparse
import asyncio

from agent import config as config_module
from agent import log


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("run", help="run the agent in the foreground (systemd ExecStart)")
    parser.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="config file")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from agent.app import run

    config = config_module.load(config_module.resolve_path(args.config))
    log.setup(config.agent.log_level, config.agent.log_format)
    return asyncio.run(run(config))
