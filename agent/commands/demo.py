"""`omo-edge demo`: the whole lane on this machine with simulated devices, so anyone can watch it work."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("demo", help="run a whole OMO journey through the real agent, simulated surroundings")
    parser.add_argument("--pace", type=float, default=0.8,
                        help="seconds between the journey's steps (at least 0.35: the scanner's bounce filter "
                             "takes a repeated code within 0.3 s as one)")
    parser.add_argument("--interactive", action="store_true",
                        help="after the journey keep the lane open and scan each code typed (it lists them), "
                             "until Ctrl-C")
    parser.add_argument("--language", choices=("ja", "en"), default="ja",
                        help="the shopper's screen's language ([api] screen_language in the demo's config; default "
                             "ja, as on a register)")
    parser.add_argument("--wait-s", type=float, default=30.0,
                        help="in a terminal, wait up to this long for a browser to open the screen's URL before "
                             "the journey starts (Enter starts at once; default 30)")
    parser.add_argument("--no-wait", action="store_true",
                        help="start the journey at once (also when CI is set or the output is not a terminal)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import asyncio

    from simulators.demo.run import run_demo

    if args.pace < 0.35:
        print("omo-edge demo: --pace must be at least 0.35 s (the scanner takes a repeated code within 0.3 s as a "
              "bounce)", file=sys.stderr)
        return 2
    try:
        return asyncio.run(run_demo(args))
    except KeyboardInterrupt:                 # every process the demo started is stopped on the way out
        print("demo: stopped by Ctrl-C", flush=True)
        return 130
