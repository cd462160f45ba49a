"""`omo-edge config check`: validate the config exactly as `run` would, without starting anything, then list
what is still a placeholder (exit 0 with warnings: the agent would run, the lane is not ready to sell)."""

from __future__ import annotations

import argparse

from agent import config as config_module
from agent.commands.placeholders import placeholder_warnings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("config", help="configuration tools")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate the config file and exit (0 ok, 2 refused)")
    check.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="config file")
    check.set_defaults(handler=handle_check)


def handle_check(args: argparse.Namespace) -> int:
    path = config_module.resolve_path(args.config)
    from agent.sync.tls_files import check_tls_files  # cryptography: only when a config is checked

    config = config_module.load(path)
    check_tls_files(config.mqtt, str(path))
    devices = ", ".join(f"{d.name} ({d.driver})" for d in config.devices) or "none"
    print(f"{path}: ok: store {config.agent.store_id}, lane {config.agent.lane_id}, "
          f"mqtt {'on' if config.mqtt else 'off (offline)'}, devices: {devices}")
    warnings = placeholder_warnings(config)
    if warnings:
        print(f"{len(warnings)} warning{'s' if len(warnings) > 1 else ''}: the agent runs with these, but the lane "
              "is not ready to sell until they are fixed:")
        for line in warnings:
            print(f"  {line}")
    return 0
