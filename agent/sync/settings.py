"""The `[mqtt]` config section, and what sync reads of `[agent]`.

Parsed once at start like every section (agent/config.py assembles them and keeps `[agent]`); the publisher,
TLS and the relay read it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from agent.config_table import Table


class AgentSettings(Protocol):
    """The keys of `[agent]` that sync reads (agent/config.py's `AgentSection` has them): whose events these
    are, where the state lives and the free-space floors of the disk guard. A protocol, so that sync does not
    import the module that imports it."""

    @property
    def store_id(self) -> str: ...
    @property
    def lane_id(self) -> str: ...
    @property
    def state_dir(self) -> Path: ...
    @property
    def stop_sales_free_mb(self) -> int: ...
    @property
    def shed_scans_free_mb(self) -> int: ...


@dataclass(frozen=True, slots=True)
class MqttSection:
    host: str
    port: int = 1883
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    server_name: str | None = None
    username: str | None = None
    password_file: Path | None = None
    topic_prefix: str = "omo/v1"
    delivery: str = "end-to-end"
    client_id: str = ""
    keepalive_s: int = 30
    inflight_window: int = 100
    confirm_timeout_s: int = 30
    retention_days: int = 7
    protocol: str = "5"                     # "5" | "3.1.1" (Azure IoT Hub, RabbitMQ before 3.13, amqtt): docs/sync.md
    max_packet_bytes: int = 268_435_455     # 3.1.1: the broker's limit, since no CONNACK announces it (AWS: 131072)
    max_publish_rate: int = 0               # publishes a second at most; 0: no limit (AWS IoT Core: 100)


def parse_mqtt(t: Table, store_id: str, lane_id: str) -> MqttSection:
    """`[mqtt]`; the client ID defaults to this lane's. Combinations the broker would refuse are refused here."""
    tls = t.boolean("tls", False)
    section = MqttSection(
        host=t.string("host"),
        port=t.integer("port", 8883 if tls else 1883, 1, 65535),
        tls=tls,
        ca_file=t.readable_file("ca_file"),
        cert_file=t.readable_file("cert_file"),
        key_file=t.secret_file("key_file"),
        server_name=t.optional_str("server_name"),
        username=t.optional_str("username"),
        password_file=t.secret_file("password_file"),
        topic_prefix=t.string("topic_prefix", "omo/v1", pattern=r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*",
                           fix="use topic levels without '+', '#' or a leading or trailing '/'"),
        delivery=t.choice("delivery", "end-to-end", ("end-to-end", "broker")),
        client_id=t.string("client_id", f"omo-edge-{store_id}-{lane_id}", pattern=r"[\x21-\x7e]{1,128}"),
        keepalive_s=t.integer("keepalive_s", 30, 5, 3600),
        inflight_window=t.integer("inflight_window", 100, 1, 65535),
        confirm_timeout_s=t.integer("confirm_timeout_s", 30, 1, 86400),
        retention_days=t.integer("retention_days", 7, 0, 3650),
        protocol=t.choice("protocol", "5", ("5", "3.1.1")),
        max_packet_bytes=t.integer("max_packet_bytes", 268_435_455, 1024, 268_435_455),
        max_publish_rate=t.integer("max_publish_rate", 0, 0, 100_000),
    )
    t.finish()
    host_problem = broker_host_problem(section.host, section.port)
    if host_problem is not None:
        raise t.error("host", f"{section.host!r} is not a host name", host_problem)
    if section.protocol == "3.1.1" and section.delivery == "broker":
        raise t.error("delivery", "\"broker\" cannot be used with protocol = \"3.1.1\": a 3.1.1 broker acknowledges a "
                      "publish that its ACL silently dropped, so its PUBACK proves nothing",
                      "use delivery = \"end-to-end\" (the cloud's own ack confirms each event), or protocol = \"5\"")
    if section.tls and section.ca_file is None:
        raise t.error("ca_file", "is required when tls = true", "point it at the PEM file of the broker's CA")
    if not section.tls and (section.ca_file or section.cert_file or section.key_file):
        raise t.error("tls", "is false but certificate files are set", "set tls = true or remove the files")
    if (section.cert_file is None) != (section.key_file is None):
        raise t.error("cert_file" if section.cert_file is None else "key_file",
                      "client certificates need both cert_file and key_file", "set both, or neither")
    if section.password_file and not section.username:
        raise t.error("username", "is required when password_file is set", "set the broker user name")
    return section


def broker_host_problem(host: str, port: int) -> str | None:
    """The fix when `host` is a URL or HOST:PORT (paho would try to resolve it as a name), else None."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return None
    except ValueError:
        pass
    match = re.fullmatch(r"(?:([a-z][a-z0-9+.-]*)://)?([^/:]+|\[[^\]]+\])(?::([0-9]+))?/?", host)
    if match is None or not (match.group(1) or match.group(3)):
        if re.fullmatch(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?", host):
            return None
        return "write the broker's DNS name or IP address alone, such as host = \"broker.example.jp\""
    name = match.group(2).strip("[]")
    given = match.group(3)
    port_fix = f" and port = {given}" if given else ""
    tls_fix = " (with tls = true)" if (given == "8883" or match.group(1) in ("mqtts", "ssl")) else ""
    return f"host = \"{name}\"{port_fix}{tls_fix}: the scheme and the port are keys of their own"
