"""TOML config read once at start into frozen, typed sections; every refusal names the file, the key and the fix.

Each component receives its own section, never the whole config. Secret files (tokens, keys, passwords)
must not be world-readable; a bare file name (no slash) is looked up in `$CREDENTIALS_DIRECTORY`, where
systemd's `LoadCredential=` puts it.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.config_table import Table
from agent.errors import ConfigError
from agent.interpret.rules import InterpretSection
from agent.interpret.rules import parse_section as _interpret

DEFAULT_PATH = Path("/etc/omo-edge/agent.toml")
SECTIONS = ("agent", "mqtt", "api", "catalog", "trust", "payment", "devices", "interpret")
ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"   # safe inside an MQTT topic level


@dataclass(frozen=True, slots=True)
class AgentSection:
    store_id: str
    lane_id: str
    state_dir: Path = Path("/var/lib/omo-edge")
    currency: str = "JPY"
    allow_simulators: bool = False
    log_format: str = "logfmt"
    log_level: str = "info"
    stop_sales_free_mb: int = 64
    shed_scans_free_mb: int = 256


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


@dataclass(frozen=True, slots=True)
class ApiSection:
    listen: str = "127.0.0.1:8765"

    @property
    def unix_path(self) -> Path | None:
        return Path(self.listen[5:]) if self.listen.startswith("unix:") else None

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


@dataclass(frozen=True, slots=True)
class CatalogSection:
    url: str
    token_file: Path | None = None
    max_age_s: int = 86400
    poll_interval_s: int = 3600
    deadline_s: int = 600


@dataclass(frozen=True, slots=True)
class TrustSection:
    keys: tuple[Path, ...] = ()
    clock_skew_s: int = 300


@dataclass(frozen=True, slots=True)
class PaymentSection:
    adapter: str = "simulated"


@dataclass(frozen=True, slots=True)
class DeviceSection:
    name: str
    driver: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Config:
    path: Path
    agent: AgentSection
    api: ApiSection
    trust: TrustSection
    payment: PaymentSection
    devices: tuple[DeviceSection, ...]
    mqtt: MqttSection | None = None
    catalog: CatalogSection | None = None
    interpret: InterpretSection = InterpretSection()


def resolve_path(explicit: str | os.PathLike[str] | None) -> Path:
    """`--config`, else `$OMO_EDGE_CONFIG`, else /etc/omo-edge/agent.toml."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("OMO_EDGE_CONFIG")
    return Path(env) if env else DEFAULT_PATH


def load(path: Path, *, check_devices: bool = True) -> Config:
    """Read, parse and validate the config file; raise ConfigError naming what to fix."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config file not found; pass --config PATH or set OMO_EDGE_CONFIG "
                          "(an example is config/agent.example.toml)", path=str(path)) from None
    except (PermissionError, IsADirectoryError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config file ({exc}); make it a UTF-8 file readable by the "
                          "service user", path=str(path)) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}; fix the syntax at that line", path=str(path)) from exc
    return parse(data, path, check_devices=check_devices)


def parse(data: Mapping[str, Any], path: Path, *, check_devices: bool = True) -> Config:
    """Validate an already-parsed TOML document."""
    where = str(path)
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"unknown section [{unknown[0]}]; known sections are "
                          f"{', '.join('[' + s + ']' for s in SECTIONS)}", path=where)
    agent = _agent(Table.of(data, "agent", where, required=True))
    devices = _devices(data.get("devices", []), where, agent.allow_simulators, check_devices)
    return Config(
        path=path, agent=agent,
        api=_api(Table.of(data, "api", where)),
        trust=_trust(Table.of(data, "trust", where)),
        payment=_payment(Table.of(data, "payment", where)),
        devices=devices,
        mqtt=_mqtt(Table.of(data, "mqtt", where), agent) if "mqtt" in data else None,
        catalog=_catalog(Table.of(data, "catalog", where), agent) if "catalog" in data else None,
        interpret=_interpret(Table.of(data, "interpret", where)),
    )


def _agent(t: Table) -> AgentSection:
    section = AgentSection(
        store_id=t.string("store_id", pattern=ID_PATTERN),
        lane_id=t.string("lane_id", pattern=ID_PATTERN),
        state_dir=t.path("state_dir", Path("/var/lib/omo-edge")),
        currency=t.string("currency", "JPY", pattern=r"[A-Z]{3}",
                       fix="use an ISO 4217 code in capitals, such as \"JPY\" or \"EUR\""),
        allow_simulators=t.boolean("allow_simulators", False),
        log_format=t.choice("log_format", "logfmt", ("logfmt", "json")),
        log_level=t.choice("log_level", "info", ("debug", "info", "warning", "error")),
        stop_sales_free_mb=t.integer("stop_sales_free_mb", 64, 1, 1 << 20),
        shed_scans_free_mb=t.integer("shed_scans_free_mb", 256, 1, 1 << 20),
    )
    t.finish()
    if not section.state_dir.is_absolute():
        raise t.error("state_dir", "must be an absolute path", "for example \"/var/lib/omo-edge\"")
    return section


def _mqtt(t: Table, agent: AgentSection) -> MqttSection:
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
        client_id=t.string("client_id", f"omo-edge-{agent.store_id}-{agent.lane_id}", pattern=r"[\x21-\x7e]{1,128}"),
        keepalive_s=t.integer("keepalive_s", 30, 5, 3600),
        inflight_window=t.integer("inflight_window", 100, 1, 65535),
        confirm_timeout_s=t.integer("confirm_timeout_s", 30, 1, 86400),
        retention_days=t.integer("retention_days", 7, 0, 3650),
    )
    t.finish()
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


def _api(t: Table) -> ApiSection:
    listen = t.string("listen", "127.0.0.1:8765")
    t.finish()
    section = ApiSection(listen=listen)
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


def _catalog(t: Table, agent: AgentSection) -> CatalogSection:
    section = CatalogSection(
        url=t.string("url"),
        token_file=t.secret_file("token_file"),
        max_age_s=t.integer("max_age_s", 86400, 60, 90 * 86400),
        poll_interval_s=t.integer("poll_interval_s", 3600, 10, 86400),
        deadline_s=t.integer("deadline_s", 600, 5, 86400),
    )
    t.finish()
    url = section.url.replace("{store_id}", agent.store_id).replace("{lane_id}", agent.lane_id)
    match = re.match(r"(https?)://([^/:]+|\[[^\]]+\])", url)
    if match is None:
        raise t.error("url", f"{section.url!r} is not an http(s) URL", "use https://host/path")
    host = match.group(2).strip("[]")
    if match.group(1) == "http" and host not in ("127.0.0.1", "localhost", "::1"):
        raise t.error("url", "plain http is only allowed to this machine (the token would travel in clear)",
                      "use https://")
    return CatalogSection(url=url, token_file=section.token_file, max_age_s=section.max_age_s,
                          poll_interval_s=section.poll_interval_s, deadline_s=section.deadline_s)


def _trust(t: Table) -> TrustSection:
    section = TrustSection(keys=t.readable_files("keys"), clock_skew_s=t.integer("clock_skew_s", 300, 0, 86400))
    t.finish()
    return section


def _payment(t: Table) -> PaymentSection:
    section = PaymentSection(adapter=t.string("adapter", "simulated", pattern=r"[a-z0-9_.+-]+"))
    t.finish()
    return section


def _devices(raw: Any, where: str, allow_simulators: bool, check: bool) -> tuple[DeviceSection, ...]:
    if not isinstance(raw, list):
        raise ConfigError("must be an array of tables: write each device as [[devices]]", path=where,
                          key="[devices]")
    devices: list[DeviceSection] = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise ConfigError("each device must be a table: write it as [[devices]] with keys below",
                              path=where, key=f"[[devices]] #{index + 1}")
        devices.append(_device(Table(entry, f"devices #{index + 1}", where), allow_simulators, check))
    names = [d.name for d in devices]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"device name {name!r} is used twice; give each device its own name",
                              path=where, key="[[devices]] name")
    return tuple(devices)


def _device(t: Table, allow_simulators: bool, check: bool) -> DeviceSection:
    name = t.string("name", pattern=r"[a-z0-9][a-z0-9_-]{0,31}",
                 fix="use lower-case letters, digits, '-' and '_', up to 32 characters")
    t.label = f"device {name!r}"
    driver = t.string("driver", pattern=r"[a-z0-9_+.-]+")
    if driver.startswith("sim+") and not allow_simulators:
        raise t.error("driver", f"{driver!r} is a simulator", "set allow_simulators = true in [agent] "
                      "(development and CI only), or use a real driver")
    options = t.rest()
    if check:
        _check_driver_options(t, name, driver, options)
    return DeviceSection(name=name, driver=driver, options=options)


def _check_driver_options(t: Table, name: str, driver: str, options: Mapping[str, Any]) -> None:
    """Let the driver validate its own options now, so a typo fails `config check`, not the night shift."""
    from drivers.base import DriverOptionError
    from drivers.registry import UnknownDriver, create

    try:
        create(name, driver, options)
    except UnknownDriver as exc:
        raise t.error("driver", str(exc), "use serial, hid or camera, or install the third-party driver") from None
    except DriverOptionError as exc:
        raise t.error(exc.key or "driver", str(exc), "see config/agent.example.toml for this driver's keys") from None
    except ImportError as exc:
        raise t.error("driver", f"the {driver} driver cannot be loaded ({exc})",
                      f"install the extra it needs: pip install 'omo-edge[{driver}]'") from None
