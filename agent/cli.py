"""`omo-edge` command line: subcommands come from agent.commands; exit 0 ok, 1 failure, 2 bad config or arguments."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from agent import __version__
from agent.commands import COMMAND_MODULES
from agent.errors import ConfigError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="omo-edge", description="In-store edge agent for self-checkout lanes.")
    parser.add_argument("--version", action="version", version=f"omo-edge {__version__}")
    parser.add_argument("--config", metavar="PATH",
                        help="config file (default: $OMO_EDGE_CONFIG, else /etc/omo-edge/agent.toml)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except ConfigError as exc:
        print(f"omo-edge: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return code
