"""`omo-edge demo`: the whole lane on this machine with simulated devices, so anyone can watch it work."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("demo", help="run the agent with simulated devices and show a shopper's scans")
    parser.add_argument("--seconds", type=float, default=0.0,
                        help="keep the lane running this long after the scripted visit (default: stop at once)")
    parser.add_argument("--pace", type=float, default=0.6,
                        help="seconds between the shopper's scans (under 0.3 s, a repeated code counts as a bounce)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import asyncio

    from simulators.demo import run_demo

    return asyncio.run(run_demo(args))
