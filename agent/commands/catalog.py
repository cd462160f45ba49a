"""`omo-edge catalog import FILE`, `status` and `reset`: load a snapshot by hand, see what is loaded, forget it.

Import uses the very verification a cloud pull uses: one bad line refuses the whole file (exit 2, naming
the line). A running agent picks the imported catalog up within a minute.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from agent import config as config_module

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("catalog", help="offline catalog: import a snapshot, show status")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    load = actions.add_parser("import", help="verify and load a catalog file (JSON Lines, gzip allowed)")
    load.add_argument("file", type=Path, metavar="FILE")
    load.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="config file")
    load.add_argument("--state-dir", type=Path, help="state directory (default: [agent] state_dir)")
    load.set_defaults(handler=handle_import)
    status = actions.add_parser("status", help="version, age and counts per kind of the loaded catalog")
    status.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="config file")
    status.add_argument("--state-dir", type=Path, help="state directory (default: [agent] state_dir)")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=handle_status)
    reset = actions.add_parser("reset", help="forget the loaded catalog (a hand import): the agent pulls the cloud's")
    reset.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="config file")
    reset.add_argument("--state-dir", type=Path, help="state directory (default: [agent] state_dir)")
    reset.set_defaults(handler=handle_reset)


def _state_dir(args: argparse.Namespace) -> Path:
    if args.state_dir is not None:
        return Path(args.state_dir)
    config = config_module.load(config_module.resolve_path(args.config), check_devices=False)
    return config.agent.state_dir


def handle_import(args: argparse.Namespace) -> int:
    from agent.catalog.db import CatalogDb
    from agent.catalog.fields import CatalogLineError
    from agent.catalog.load import OlderSnapshot, load_snapshot
    from agent.errors import StoreError

    source: Path = args.file
    if not source.is_file():
        print(f"omo-edge: {source} is not a file; give the path of a catalog snapshot", file=sys.stderr)
        return EXIT_USAGE
    state_dir = _state_dir(args)
    state_dir.mkdir(parents=True, exist_ok=True)
    catalog = CatalogDb(state_dir, cleanup=False)   # not opened: only the pointer moves (the agent follows it)
    try:
        result = load_snapshot(catalog, source, progress=_progress(source), swap=False, origin="import")
    except (CatalogLineError, OlderSnapshot) as exc:
        _end_progress()
        print(f"omo-edge: {source} refused, nothing was loaded: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StoreError as exc:
        _end_progress()
        print(f"omo-edge: catalog import failed, the previous catalog stays: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        catalog.close()
    _end_progress()
    counts = ", ".join(f"{kind} {n}" for kind, n in result.counts.items() if n)
    print(f"catalog version {result.version} loaded from {source} in {result.seconds:.1f} s: {counts}")
    print("imported by hand: a lane with [catalog] url replaces it with the cloud's snapshot at its next pull")
    return EXIT_OK


def _progress(source: Path) -> Callable[[int, int], None] | None:
    """A progress line on a terminal; nothing when output is piped or logged."""
    if not sys.stderr.isatty():
        return None
    total = max(1, source.stat().st_size)
    started = time.monotonic()

    def show(done_bytes: int, lines: int) -> None:
        rate = lines / max(1e-6, time.monotonic() - started)
        print(f"\rimporting {source.name}: {100 * done_bytes / total:5.1f}%  {lines:,} lines  {rate:,.0f} lines/s",
              end="", file=sys.stderr, flush=True)

    return show


def _end_progress() -> None:
    if sys.stderr.isatty():
        print(file=sys.stderr)


def handle_status(args: argparse.Namespace) -> int:
    from agent.catalog.db import read_status

    status = read_status(_state_dir(args))
    if args.json:
        print(json.dumps(status.as_dict(), indent=2))
        return EXIT_OK
    if not status.loaded:
        print("no catalog loaded: items are unknown and the offline policy defaults apply; "
              "run `omo-edge catalog import FILE` or let the agent pull one")
        return EXIT_FAILURE
    age = "unknown" if status.age_s is None else f"{status.age_s / 3600:.1f} h"
    print(f"catalog version {status.version}, confirmed {age} ago, etag {status.etag or '-'}")
    print(f"  {status.provenance()}")
    for kind, count in status.counts.items():
        print(f"  {kind:<10} {count:>10,}")
    print(f"  file       {status.path}")
    return EXIT_OK


def handle_reset(args: argparse.Namespace) -> int:
    from agent.catalog.db import read_status
    from agent.catalog.files import catalog_lock, remove_pointer

    state_dir = _state_dir(args)
    if not state_dir.is_dir():
        print(f"no catalog in {state_dir}: nothing to reset")
        return EXIT_OK
    with catalog_lock(state_dir):
        status = read_status(state_dir)
        remove_pointer(state_dir)
    if not status.loaded:
        print(f"no catalog loaded in {state_dir}: nothing to reset")
        return EXIT_OK
    print(f"catalog version {status.version} ({status.source_label()}) is no longer used. A running "
          "agent drops it within a minute and pulls the cloud's snapshot at once; until then, or without "
          "[catalog] url, items are unknown: load one with `omo-edge catalog import FILE`")
    return EXIT_OK
