"""The layer's command line.

    python -m simulators.powerloss mount BACKING MOUNTPOINT   serve in the foreground until cut or unmounted
    python -m simulators.powerloss cut MOUNTPOINT             the power goes: unsynced writes are discarded
    python -m simulators.powerloss unmount MOUNTPOINT         a clean unmount: everything stays

(`serve` is `mount` with `--until-stdin-closes`, which tests use so that a dead parent unmounts it.)
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from simulators.powerloss.mount import PowerLossError, serving_pid


def signal_and_wait(mountpoint: Path, signum: int, timeout_s: float = 60.0) -> int:
    pid, pidfile = serving_pid(mountpoint)
    os.kill(pid, signum)
    deadline = time.monotonic() + timeout_s
    while pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.05)          # another process's work: nothing to wait on but the file it removes when done
    return 0 if not os.path.ismount(mountpoint) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.powerloss", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("mount", "serve"):
        serve = sub.add_parser(name, help="mount the layer over BACKING at MOUNTPOINT (foreground)")
        serve.add_argument("backing", type=Path)
        serve.add_argument("mountpoint", type=Path)
        serve.add_argument("--until-stdin-closes", action="store_true", help="unmount when stdin ends")
    for name in ("cut", "unmount"):
        end = sub.add_parser(name, help=f"{name} the layer mounted at MOUNTPOINT")
        end.add_argument("mountpoint", type=Path)
    args = parser.parse_args(argv)
    if args.command in ("mount", "serve"):
        from simulators.powerloss.daemon import run
        if args.command == "mount":
            print(f"pid {os.getpid()}: `python -m simulators.powerloss cut {args.mountpoint}` cuts the power",
                  file=sys.stderr)
        return run(args.backing.resolve(), args.mountpoint.resolve(), args.until_stdin_closes)
    try:
        return signal_and_wait(args.mountpoint, signal.SIGUSR1 if args.command == "cut" else signal.SIGUSR2)
    except PowerLossError as exc:
        print(exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
