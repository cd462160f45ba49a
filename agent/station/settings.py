"""The station's own config file (default /etc/omo-edge/attendant.toml): `[station]` and `[broker]`.

Separate from the lane's agent.toml because the station runs on the store server or on any one register, with
its own identity, certificate and keys. Every refusal names the file, the key and the fix.
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass
from pathlib import Path

from agent.config_table import Table
from agent.errors import ConfigError

DEFAULT_PATH = Path("/etc/omo-edge/attendant.toml")
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
_ID = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"


@dataclass(frozen=True, slots=True)
class StationSection:
    station_id: str
    store_id: str
    host: str
    port: int
    tls_cert: Path | None
    tls_key: Path | None
    insecure_loopback_only: bool
    signing_key: Path
    staff_keys: tuple[Path, ...]
    session_ttl_s: int = 8 * 3600
    session_idle_s: int = 15 * 60
    reply_timeout_s: float = 5.0
    command_ttl_s: int = 10
    log_level: str = "info"
    log_format: str = "logfmt"


@dataclass(frozen=True, slots=True)
class BrokerSection:
    host: str
    port: int
    protocol: str          # "5" or "3.1.1"
    tls: bool
    ca_file: Path | None
    cert_file: Path | None
    key_file: Path | None
    server_name: str | None
    topic_prefix: str
    client_id: str
    keepalive_s: int = 30


@dataclass(frozen=True, slots=True)
class StationSettings:
    station: StationSection
    broker: BrokerSection
    path: str


def _listen(table: Table) -> tuple[str, int]:
    text = table.string("listen", "0.0.0.0:8443")
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise table.error("listen", f"{text!r} is not HOST:PORT", 'write listen = "0.0.0.0:8443"')
    return host.strip("[]"), int(port)


def _station(table: Table) -> StationSection:
    station_id = table.string("station_id", pattern=_ID)
    store_id = table.string("store_id", pattern=_ID)
    host, port = _listen(table)
    insecure = table.boolean("insecure_loopback_only", False)
    cert, key = table.readable_file("tls_cert"), table.secret_file("tls_key")
    if insecure:
        host = "127.0.0.1"          # plain HTTP is for tests and development on this machine only
    elif cert is None or key is None:
        raise table.error("tls_cert" if cert is None else "tls_key", "the page is served over HTTPS only",
                          "give tls_cert and tls_key (the station's server certificate and key, docs/attendant.md); "
                          "insecure_loopback_only = true serves plain HTTP on 127.0.0.1 for development")
    signing_key = table.secret_file("signing_key")
    if signing_key is None:
        raise table.error("signing_key", "is required", 'give the station\'s Ed25519 private key (PEM), e.g. '
                          'signing_key = "/etc/omo-edge/station/station-1.key"; its file stem is the key ID')
    keys_dir = table.path("staff_keys_dir")
    staff_keys = tuple(sorted(keys_dir.glob("*.pub"))) if keys_dir.is_dir() else ()
    if not staff_keys:
        raise table.error("staff_keys_dir", f"{keys_dir} holds no .pub file",
                          "put the staff token public keys (PEM, <kid>.pub, as in the lane's [trust] keys) there")
    ttl = table.integer("session_ttl_s", 8 * 3600, 60, 7 * 86400)
    idle = table.integer("session_idle_s", 15 * 60, 30, 86400)
    if idle > ttl:
        raise table.error("session_idle_s", f"{idle} is longer than session_ttl_s {ttl}",
                          "make the idle expiry shorter than the absolute one")
    section = StationSection(
        station_id=station_id, store_id=store_id, host=host, port=port, tls_cert=cert, tls_key=key,
        insecure_loopback_only=insecure, signing_key=signing_key, staff_keys=staff_keys, session_ttl_s=ttl,
        session_idle_s=idle, reply_timeout_s=table.number("reply_timeout_s", 5.0),
        command_ttl_s=table.integer("command_ttl_s", 10, 2, 60),
        log_level=table.choice("log_level", "info", ("debug", "info", "warning", "error")),
        log_format=table.choice("log_format", "logfmt", ("logfmt", "json")))
    if not 0.5 <= section.reply_timeout_s <= 60:
        raise table.error("reply_timeout_s", f"{section.reply_timeout_s} is out of range", "use 0.5 to 60 seconds")
    table.finish()
    return section


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _broker(table: Table, station_id: str) -> BrokerSection:
    host = table.string("host")
    tls = table.boolean("tls", True)
    section = BrokerSection(
        host=host, port=table.integer("port", 8883 if tls else 1883, 1, 65535),
        protocol=table.choice("protocol", "5", ("5", "3.1.1")), tls=tls,
        ca_file=table.readable_file("ca_file"), cert_file=table.readable_file("cert_file"),
        key_file=table.secret_file("key_file"), server_name=table.optional_str("server_name"),
        topic_prefix=table.string("topic_prefix", "omo/v1", pattern=r"[A-Za-z0-9._/-]+[A-Za-z0-9._-]",
                                  fix="use letters, digits, . _ - and / (no wildcards, no trailing /)"),
        client_id=table.string("client_id", f"omo-edge-attendant-{station_id}", pattern=_ID),
        keepalive_s=table.integer("keepalive_s", 30, 5, 600))
    if not tls and not _is_loopback(host):
        raise table.error("tls", f"tls = false to {host}, which is not this machine",
                          "use tls = true with ca_file, cert_file and key_file (the station's client certificate)")
    if tls and section.ca_file is None:
        raise table.error("ca_file", "tls = true needs the broker's CA", "point ca_file at the CA's PEM file")
    if (section.cert_file is None) != (section.key_file is None):
        raise table.error("cert_file", "cert_file and key_file go together", "give both, or neither")
    table.finish()
    return section


def parse(document: dict[str, object], path: str) -> StationSettings:
    """Settings from a parsed TOML document; unknown sections and keys are refused."""
    unknown = sorted(set(document) - {"station", "broker"})
    if unknown:
        raise ConfigError(f"unknown section [{unknown[0]}]. Fix: the station reads only [station] and [broker] "
                          "(see config/attendant.example.toml)", path=path)
    station = _station(Table.of(document, "station", path, required=True))
    broker = _broker(Table.of(document, "broker", path, required=True), station.station_id)
    return StationSettings(station=station, broker=broker, path=path)


def load(path: Path) -> StationSettings:
    """Read and check the station's config file."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("the file does not exist. Fix: copy config/attendant.example.toml there, or give "
                          "--config PATH", path=str(path)) from None
    except PermissionError:
        raise ConfigError("cannot be read by this user. Fix: give the service user read access",
                          path=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"is not valid TOML ({exc}). Fix: correct the syntax", path=str(path)) from None
    return parse(document, str(path))
