"""`omo-edge config check`: validate the config exactly as `run` would, without starting anything."""

from __future__ import annotations

import argparse

from agent import config as config_module


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("config", help="configuration tools")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate the config file and exit (0 ok, 2 refused)")
    check.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="config file")
    check.set_defaults(handler=handle_check)


def handle_check(args: argparse.Namespace) -> int:
    path = config_module.resolve_path(args.config)
    config = config_module.load(path)
    devices = ", ".join(f"{d.name} ({d.driver})" for d in config.devices) or "none"
    print(f"{path}: ok: store {config.agent.store_id}, lane {config.agent.lane_id}, "
          f"mqtt {'on' if config.mqtt else 'off (offline)'}, devices: {devices}")
    return 0
