"""`omo-edge doctor`: which scanners, cameras, lane lights, scales and receipt printers this box has, whether the
service user may open them, what to paste.

Run it as the service user (`sudo -u omo-edge omo-edge doctor`) so "may open" answers for the agent itself.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

# Device access comes from udev rules giving the device to group omo-edge (docs/operations/udev.md), never from
# adding the service user to dialout/input/video: those give it every modem and keyboard, and the unit maps only
# its own group (PrivateUsers=).
_LOCAL_RULE = ("give it to group omo-edge with a udev rule in /etc/udev/rules.d/99-omo-edge-local.rules "
               "(docs/operations/udev.md), then replug it")
ACCESS_FIX = {"serial": f"{_LOCAL_RULE}; the packaged rules cover the common scanner vendors only",
              "hid": f"{_LOCAL_RULE}; only scanners, never the register's keyboards",
              "camera": f"{_LOCAL_RULE}; the packaged rules cover every camera, so check they are installed",
              "light": _LOCAL_RULE, "scale": f"{_LOCAL_RULE}; docs/drivers.md (Scales) has lines for common scales",
              "printer": f"{_LOCAL_RULE}; the packaged rules cover Epson, Star, Citizen and Bixolon printers"}
TITLES = {"serial": "Serial ports", "hid": "Input devices (keyboard wedges)", "camera": "Cameras",
          "light": "Lane lights (USB HID; a relay board is a serial port above)",
          "scale": "Scales (USB HID POS scales; a serial scale is a serial port above)",
          "printer": "Receipt printers (USB; a serial printer is a serial port above, a network one is not listed)"}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("doctor", help="list serial ports, scanner-like input devices, cameras, lane "
                                           "lights, scales and receipt printers, with a config snippet for each")
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
            access = "may open" if item.readable else f"NO ACCESS. Fix: {ACCESS_FIX[kind]}"
            print(f"  {item.path}  ({item.description}; now {item.node}) - {access}")
            for note in item.notes:
                print(f"    note: {note}")
            print("    " + item.snippet(f"{kind}{i}").replace("\n", "\n    ").rstrip())
        if kind == "hid" and not items:
            print("  (keyboard wedges that do not name themselves as scanners: run with --all)")
    return 0
