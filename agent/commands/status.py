"""`omo-edge status`: ask the running agent's local API for its health and print it for store IT."""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import sys
from typing import Any

from agent import config as config_module
from agent.config import ApiSection


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def get_json(api: ApiSection, path: str, timeout_s: float = 3.0) -> Any:
    """GET a local API path and decode its JSON body."""
    if api.unix_path is not None:
        conn: http.client.HTTPConnection = _UnixConnection(str(api.unix_path), timeout_s)
    else:
        host, port = api.host_port
        conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request("GET", path)
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("status", help="show the running agent's health")
    parser.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="config file")
    parser.add_argument("--json", action="store_true", help="print the raw /v1/health JSON")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    config = config_module.load(config_module.resolve_path(args.config), check_devices=False)
    try:
        health = get_json(config.api, "/v1/health")
    except OSError as exc:
        print(f"omo-edge: the agent does not answer on {config.api.listen} ({exc}); "
              "is it running? (systemctl status omo-edge)", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(health, indent=2))
        return 0
    print(f"status {health['status']}  version {health['version']}  up {health['uptime_s']:.0f} s")
    for name, component in health["components"].items():
        reason = f"  ({component['reason']})" if component.get("reason") else ""
        counters = " ".join(f"{k}={v}" for k, v in component.get("counters", {}).items())
        print(f"  {name:<24} {component['state']:<9} {counters}{reason}")
    # 0 while the lane can sell (ok, starting, degraded); 1 when a component is down or the agent is silent.
    return 1 if health["status"] == "down" else 0
