"""`omo-edge doctor`: which scanners and cameras this box has, whether the service user may open them, what to paste.

Run it as the service user (`sudo -u omo-edge omo-edge doctor`) so "may open" answers for the agent itself.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

GROUP_FIX = {"serial": "add the service user to the dialout group (systemd/ udev rules set the mode)",
             "hid": "add the service user to the input group (systemd/ udev rules set the mode)",
             "camera": "add the service user to the video group"}
TITLES = {"serial": "Serial ports", "hid": "Input devices (keyboard wedges)", "camera": "Cameras"}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("doctor", help="list serial ports, scanner-like input devices and cameras, with a "
                                           "config snippet for each")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--all", action="store_true", help="also list keyboards that do not look like scanners")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from drivers.detect import everything

    found = [f for f in everything() if f.likely_scanner or args.all or f.kind != "hid"]
    if args.json:
        print(json.dumps([asdict(f) | {"snippet": f.snippet(f"{f.kind}{i}")} for i, f in enumerate(found)],
                         indent=2))
        return 0
    for kind, title in TITLES.items():
        items = [f for f in found if f.kind == kind]
        print(f"{title}: {len(items) or 'none found'}")
        for i, item in enumerate(items):
            access = "may open" if item.readable else f"NO ACCESS. Fix: {GROUP_FIX[kind]}"
            print(f"  {item.path}  ({item.description}; now {item.node}) - {access}")
            for note in item.notes:
                print(f"    note: {note}")
            print("    " + item.snippet(f"{kind}{i}").replace("\n", "\n    ").rstrip())
    if not any(f.kind == "hid" for f in found):
        print("  (keyboard wedges that do not name themselves as scanners: run with --all)")
    return 0
