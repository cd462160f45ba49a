"""The `[api]` config section: where the local API listens and how the shopper's screen starts.

Parsed once at start like every section (agent/config.py assembles them). Only loopback addresses and unix
sockets are accepted: the local API must not be reachable from the store network.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from agent.config_table import Table


@dataclass(frozen=True, slots=True)
class ApiSection:
    listen: str = "127.0.0.1:8765"
    screen_language: str = "ja"             # the shopper's screen's language until the shopper switches: ja | en
    scanner_position: str = "below"         # where the scanner is, seen from the shopper: below | left | right

    @property
    def unix_path(self) -> Path | None:
        return Path(self.listen[5:]) if self.listen.startswith("unix:") else None

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


def parse_api(t: Table) -> ApiSection:
    """`[api]`; every key optional. A listen address off this machine is refused."""
    listen = t.string("listen", "127.0.0.1:8765")
    language = t.choice("screen_language", "ja", ("ja", "en"))
    scanner = t.choice("scanner_position", "below", ("below", "left", "right"))
    t.finish()
    section = ApiSection(listen=listen, screen_language=language, scanner_position=scanner)
    if section.unix_path is not None:
        if not section.unix_path.is_absolute():
            raise t.error("listen", "unix socket path must be absolute", "for example \"unix:/run/omo-edge/api.sock\"")
        return section
    try:
        host, port = section.host_port
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        raise t.error("listen", f"{listen!r} is not HOST:PORT or unix:PATH",
                      "use \"127.0.0.1:8765\" or \"unix:/run/omo-edge/api.sock\"") from None
    if not loopback:
        raise t.error("listen", f"{host} is not a loopback address; the local API must not be reachable from "
                      "the store network", "use 127.0.0.1, ::1 or a unix socket")
    if not 1 <= port <= 65535:
        raise t.error("listen", f"port {port} is out of range", "use a port from 1 to 65535")
    return section
