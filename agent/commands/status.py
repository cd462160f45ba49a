"""`omo-edge status`: ask the running agent's local API for its health and print it for store IT.

It reads only `[agent]` and `[api]` of the config (never the secrets), so an admin in group omo-edge runs it
without sudo; `--api` gives the address when the config cannot be read. The answer must name this lane's
store and lane: another lane's agent, or another program, on this lane's address is refused, not reported.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import sys
from typing import Any

from agent import config as config_module
from agent.api.settings import ApiSection
from agent.errors import ConfigError


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
    parser.add_argument("--api", metavar="ADDRESS", help="the agent's [api] listen (HOST:PORT or unix:PATH), for "
                                                         "when the config cannot be read")
    parser.add_argument("--json", action="store_true", help="print the raw /v1/health JSON")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    target = _target(args)
    if isinstance(target, int):
        return target
    api, lane = target
    try:
        health = get_json(api, "/v1/health")
    except OSError as exc:
        print(f"omo-edge: the agent does not answer on {api.listen} ({exc}); "
              "is it running? (systemctl status omo-edge)", file=sys.stderr)
        return 1
    except (ValueError, http.client.HTTPException):
        health = None
    problem = identity_problem(health, lane, api.listen)
    if problem is not None:
        print(f"omo-edge: {problem}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(health, indent=2))
        return 0
    print(f"store {health['store']}  lane {health['lane']}  status {health['status']}  version {health['version']}  "
          f"up {health['uptime_s']:.0f} s")
    for name, component in health["components"].items():
        reason = f"  ({component['reason']})" if component.get("reason") else ""
        counters = " ".join(f"{k}={v}" for k, v in component.get("counters", {}).items())
        print(f"  {name:<24} {component['state']:<9} {counters}{reason}")
    # 0 while the lane can sell (ok, starting, degraded); 1 when a component is down or the agent is silent.
    return 1 if health["status"] == "down" else 0


def _target(args: argparse.Namespace) -> tuple[ApiSection, tuple[str, str] | None] | int:
    """Where to ask, and which store and lane must answer (None: --api given and the config unreadable)."""
    path = config_module.resolve_path(args.config)
    try:
        agent, api = config_module.load_identity(path)
    except ConfigError as exc:
        if args.api is None:
            print(f"omo-edge: configuration error: {exc}\n  or give the agent's address: omo-edge status --api "
                  "127.0.0.1:8765 (its [api] listen)", file=sys.stderr)
            return 2
        return config_module.api_listen(args.api, "--api"), None
    if args.api is not None:
        api = config_module.api_listen(args.api, "--api")
    return api, (agent.store_id, agent.lane_id)


def identity_problem(health: Any, lane: tuple[str, str] | None, listen: str) -> str | None:
    """Why this answer is not this lane's agent's health, or None."""
    if not (isinstance(health, dict) and isinstance(health.get("components"), dict)
            and isinstance(health.get("store"), str) and isinstance(health.get("lane"), str)):
        return (f"the program answering on {listen} is not this lane's agent (its /v1/health names no store and "
                "lane). Fix: see what holds that address (ss -ltnp, as root), stop it or give the agent another "
                "[api] listen, then restart it (systemctl restart omo-edge)")
    if lane is not None and (health["store"], health["lane"]) != lane:
        return (f"the agent answering on {listen} is {health['store']}/{health['lane']}'s, not this config's "
                f"{lane[0]}/{lane[1]}. Fix: give each agent on this machine its own [api] listen, or pass that "
                "lane's --config")
    return None
