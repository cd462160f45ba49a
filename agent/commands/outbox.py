"""`omo-edge outbox status`: what the lane still holds for the cloud, read straight from lane.db (no agent needed)."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from typing import Any

from agent import config as config_module
from agent.store import readonly
from agent.sync import outbox
from agent.sync.disk import file_sizes


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("outbox", help="inspect the events waiting for the cloud")
    actions = parser.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="depth per class, oldest unconfirmed sale, last ack")
    status.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="config file")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=handle_status)


def outbox_report(lane_db: Any) -> dict[str, Any]:
    """The numbers `outbox status` prints (also what the relay's health probe reports)."""
    with readonly(lane_db) as conn:
        report = outbox.depth(conn)
    return {**report, **file_sizes(lane_db)}


def handle_status(args: argparse.Namespace) -> int:
    config = config_module.load(config_module.resolve_path(getattr(args, "config", None)), check_devices=False)
    lane_db = config.agent.state_dir / "lane.db"
    if not lane_db.exists():
        print(f"no lane database at {lane_db}: the agent has not run with this state_dir yet", file=sys.stderr)
        return 1
    try:
        report = outbox_report(lane_db)
    except sqlite3.Error as exc:
        print(f"cannot read {lane_db}: {exc}; is it an omo-edge lane database?", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    depth = report["outbox_depth"]
    print("unconfirmed events: " + ", ".join(f"{name} {count}" for name, count in depth.items()))
    age = report["oldest_unconfirmed_sale_age_s"]
    print(f"oldest unconfirmed sale: {'none' if age is None else f'{age:.0f} s old'}")
    print(f"last ack from the cloud: {report['last_ack_at'] or 'never'}")
    print(f"last seq: {report['last_seq']}, confirmed up to seq {report['ack_seq_hwm']} (high-water mark)")
    print(f"lane.db {report['db_bytes']} bytes, WAL {report['wal_bytes']} bytes")
    return 0
