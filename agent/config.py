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
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent.config_table import Table
from agent.devices import DeviceSection, parse_devices
from agent.errors import ConfigError
from agent.interpret.rules import InterpretSection, TrustSection, parse_trust
from agent.interpret.rules import parse_section as _interpret

DEFAULT_PATH = Path("/etc/omo-edge/agent.toml")
SECTIONS = ("agent", "mqtt", "api", "catalog", "trust", "payment", "devices", "interpret", "session", "points",
            "pickup")
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
    protocol: str = "5"                     # "5" | "3.1.1" (Azure IoT Hub, RabbitMQ before 3.13, amqtt): docs/sync.md
    max_packet_bytes: int = 268_435_455     # 3.1.1: the broker's limit, since no CONNACK announces it (AWS: 131072)
    max_publish_rate: int = 0               # publishes a second at most; 0: no limit (AWS IoT Core: 100)


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


@dataclass(frozen=True, slots=True)
class CatalogSection:
    url: str
    token_file: Path | None = None
    max_age_s: int = 86400
    poll_interval_s: int = 3600
    deadline_s: int = 600


@dataclass(frozen=True, slots=True)
class PaymentSection:
    adapter: str = "none"                   # none (no payments taken) | simulated (allow_simulators) | paypay | ...
    timeout_s: int = 30                     # a reply later than this is an unknown result, never a retry
    simulated_outcome: str = "approve"      # the simulated adapter's answer: approve | decline | timeout
    simulated_latency_ms: int = 0
    base_url: str = ""                      # paypay: the Open Payment API's base URL
    merchant_id: str = ""
    api_key_id: str = ""
    api_secret_file: Path | None = None     # a secret: not world-readable, or a systemd credential
    qr_expiry_s: int = 300                  # merchant-presented: how long the shown QR may be paid
    poll_interval_s: float = 2.5            # how often a waiting payment's status is asked
    unknown_timeout_s: int = 120            # still unknown after this long: cancel (or refund) it, never guess
    cancel_zone: str = "Asia/Tokyo"         # the zone of the service's cancel window (00:14:59 the next day)
    simulated_app_pays_after_s: float = 3.0  # the simulated app pays a shown QR after this long (< 0: never)


@dataclass(frozen=True, slots=True)
class SessionSection:
    """The shopper's visit: limits, interventions, tax and the receipt's issuer (docs/session.md)."""

    inactivity_timeout_s: int = 180         # an untouched basket is abandoned after this long
    max_lines: int = 200
    max_quantity: int = 99                  # per line
    audit_rate: float = 0.0                 # share of sessions that get a random attendant check
    max_failed_payments: int = 3            # then an attendant is called
    tax_mode: str = "inclusive"             # prices include tax (Japan's total-price display) | exclusive
    tax_rounding: str = "down"              # once per rate per receipt: down | half_up | up
    registration_number: str | None = None  # the issuer's qualified-invoice number: T + 13 digits
    issuer_name: str = ""
    keyed_codes: str = "approval"           # product codes typed on the screen: allowed | approval (staff) | refused


@dataclass(frozen=True, slots=True)
class PointsSection:
    """How members earn points at the end of a sale; absent: no points are earned."""

    basis: str = "tax_inclusive"            # tax_inclusive | pre_tax
    earning: str = "per_unit"               # per_unit: floor(paid / unit) x multiplier | proportional
    unit: int = 100                         # minor units per step
    points_per_unit: int = 1
    rounding: str = "down"
    tier_multipliers: Mapping[str, str] = field(default_factory=dict)   # tier -> decimal string, e.g. "2"


@dataclass(frozen=True, slots=True)
class PickupSection:
    """Online orders collected at the lane from a locker (docs/session.md "Pickup"); "none": at the counter."""

    locker: str = "none"                    # none | simulated | a locker in the omo_edge.lockers entry-point group
    compartments: int = 24                  # an order the cloud gave no compartment is in one of "1".."24"
    open_timeout_s: int = 15                # a locker silent this long: the pickup failed (timeout), try again
    simulated_fault: str = "none"           # the simulated locker's fault: none | jammed | offline
    options: Mapping[str, Any] = field(default_factory=dict)   # the locker driver's own keys, passed as they are

    @property
    def driver_options(self) -> dict[str, Any]:
        """What the locker's factory is built with (the simulated one also gets its fault)."""
        if self.locker == "simulated":
            return {"fault": self.simulated_fault, **self.options}
        return dict(self.options)


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
    session: SessionSection = SessionSection()
    points: PointsSection | None = None
    pickup: PickupSection = PickupSection()


def resolve_path(explicit: str | os.PathLike[str] | None) -> Path:
    """`--config`, else `$OMO_EDGE_CONFIG`, else /etc/omo-edge/agent.toml."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("OMO_EDGE_CONFIG")
    return Path(env) if env else DEFAULT_PATH


def load(path: Path, *, check_devices: bool = True) -> Config:
    """Read, parse and validate the config file; raise ConfigError naming what to fix."""
    return parse(_read(path), path, check_devices=check_devices)


def load_identity(path: Path) -> tuple[AgentSection, ApiSection]:
    """Only `[agent]` and `[api]`: who this lane is and where its API listens, for commands that talk to the
    running agent (`status`). The rest (secrets, devices) is the agent's business, so an admin who may read
    the config but not the credentials can still ask."""
    data = _read(path)
    return _agent(Table.of(data, "agent", str(path), required=True)), _api(Table.of(data, "api", str(path)))


def api_listen(listen: str, where: str) -> ApiSection:
    """An `[api] listen` value given elsewhere (`status --api`), checked by the same rules."""
    return _api(Table({"listen": listen}, "api", where))


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config file not found; pass --config PATH or set OMO_EDGE_CONFIG "
                          "(an example is config/agent.example.toml)", path=str(path)) from None
    except PermissionError:
        raise ConfigError("cannot read the config file: permission denied. Fix: run the command with sudo, or as a "
                          "member of group omo-edge (install.sh makes the file root:omo-edge 0640, which the "
                          "service reads as user omo-edge)", path=str(path)) from None
    except (IsADirectoryError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config file ({exc}); make it a UTF-8 file readable by the "
                          "service user", path=str(path)) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}; fix the syntax at that line", path=str(path)) from exc


def parse(data: Mapping[str, Any], path: Path, *, check_devices: bool = True) -> Config:
    """Validate an already-parsed TOML document."""
    where = str(path)
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"unknown section [{unknown[0]}]; known sections are "
                          f"{', '.join('[' + s + ']' for s in SECTIONS)}", path=where)
    agent = _agent(Table.of(data, "agent", where, required=True))
    devices = parse_devices(data.get("devices", []), where, agent.allow_simulators, check_devices)
    return Config(
        path=path, agent=agent,
        api=_api(Table.of(data, "api", where)),
        trust=parse_trust(Table.of(data, "trust", where)),
        payment=_payment(Table.of(data, "payment", where), agent),
        devices=devices,
        mqtt=_mqtt(Table.of(data, "mqtt", where), agent) if "mqtt" in data else None,
        catalog=_catalog(Table.of(data, "catalog", where), agent) if "catalog" in data else None,
        interpret=_interpret(Table.of(data, "interpret", where)),
        session=_session(Table.of(data, "session", where)),
        points=_points(Table.of(data, "points", where)) if "points" in data else None,
        pickup=_pickup(Table.of(data, "pickup", where), agent, check_devices),
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


def _api(t: Table) -> ApiSection:
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


def _payment(t: Table, agent: AgentSection) -> PaymentSection:
    section = PaymentSection(
        adapter=t.string("adapter", "none", pattern=r"[a-z0-9_.+-]+"),
        timeout_s=t.integer("timeout_s", 30, 1, 600),
        simulated_outcome=t.choice("simulated_outcome", "approve", ("approve", "decline", "timeout")),
        simulated_latency_ms=t.integer("simulated_latency_ms", 0, 0, 600_000),
        base_url=t.string("base_url", ""),
        merchant_id=t.string("merchant_id", ""),
        api_key_id=t.string("api_key_id", ""),
        api_secret_file=t.secret_file("api_secret_file"),
        qr_expiry_s=t.integer("qr_expiry_s", 300, 30, 3600),
        poll_interval_s=t.number("poll_interval_s", 2.5),
        unknown_timeout_s=t.integer("unknown_timeout_s", 120, 5, 86400),
        cancel_zone=t.string("cancel_zone", "Asia/Tokyo"),
        simulated_app_pays_after_s=t.number("simulated_app_pays_after_s", 3.0),
    )
    t.finish()
    if section.adapter == "simulated" and not agent.allow_simulators:
        raise t.error("adapter", "'simulated' is a simulator: it approves payments and no money moves",
                      "name the store's payment adapter (for example \"paypay\", docs/payment.md), or set "
                      "allow_simulators = true in [agent] on a development lane")
    if not 0.2 <= section.poll_interval_s <= 60:
        raise t.error("poll_interval_s", f"{section.poll_interval_s} is out of range",
                      "use 0.2 to 60 seconds (the service asks for 2 to 3)")
    try:
        ZoneInfo(section.cancel_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise t.error("cancel_zone", f"{section.cancel_zone!r} is not a time zone ({type(exc).__name__})",
                      "use an IANA zone name such as \"Asia/Tokyo\" (install tzdata if none is found)") from None
    url = section.base_url
    if url and not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise t.error("base_url", f"{url!r} is not https", "use the service's https:// URL (plain http only to "
                      "this machine, for the simulator)")
    return section


ROUNDING = ("down", "half_up", "up")
KEYED_CODES = ("allowed", "approval", "refused")


def _session(t: Table) -> SessionSection:
    section = SessionSection(
        inactivity_timeout_s=t.integer("inactivity_timeout_s", 180, 10, 86400),
        max_lines=t.integer("max_lines", 200, 1, 2000),
        max_quantity=t.integer("max_quantity", 99, 1, 9999),
        audit_rate=_rate(t, "audit_rate"),
        max_failed_payments=t.integer("max_failed_payments", 3, 1, 20),
        tax_mode=t.choice("tax_mode", "inclusive", ("inclusive", "exclusive")),
        tax_rounding=t.choice("tax_rounding", "down", ROUNDING),
        registration_number=t.optional_str("registration_number"),
        issuer_name=t.string("issuer_name", ""),
        keyed_codes=t.choice("keyed_codes", "approval", KEYED_CODES),
    )
    t.finish()
    number = section.registration_number
    if number is not None and re.fullmatch(r"T[0-9]{13}", number) is None:
        raise t.error("registration_number", f"{number!r} is not a qualified-invoice registration number",
                      "write it as on the tax office's notice: 'T' and 13 digits, such as \"T9234567890123\"")
    if number is not None and int(number[1]) != corporate_check_digit(number[2:]):
        raise t.error("registration_number", f"{number!r} has check digit {number[1]} but its 12 digits give "
                      f"{corporate_check_digit(number[2:])}", "copy the number from the tax office's notice (the "
                      "first of the 13 digits is the check digit)")
    return section


def corporate_check_digit(digits: str) -> int:
    """The check digit of a Japanese corporate number (and so of a registration number, `T` + that number):
    9 - (the sum of the 12 digits weighted 1, 2, 1, 2 ... from the lowest place) mod 9. A mistyped number
    would print on every receipt an invoice the shopper's accountant cannot claim."""
    weighted = sum(int(d) * (1 if n % 2 == 0 else 2) for n, d in enumerate(reversed(digits)))
    return 9 - weighted % 9


def _rate(t: Table, key: str) -> float:
    value = t.number(key, 0.0)
    if not 0 <= value <= 1:
        raise t.error(key, f"{value!r} is not a share from 0 to 1", "use 0 for none, 0.02 for one session in 50")
    return float(value)


def _points(t: Table) -> PointsSection:
    multipliers = t.table("tier_multipliers")
    section = PointsSection(
        basis=t.choice("basis", "tax_inclusive", ("tax_inclusive", "pre_tax")),
        earning=t.choice("earning", "per_unit", ("per_unit", "proportional")),
        unit=t.integer("unit", 100, 1, 1_000_000),
        points_per_unit=t.integer("points_per_unit", 1, 1, 1000),
        rounding=t.choice("rounding", "down", ROUNDING),
        tier_multipliers={str(k): str(v) for k, v in multipliers.items()},
    )
    t.finish()
    for tier, value in section.tier_multipliers.items():
        if re.fullmatch(r"[0-9]+(\.[0-9]+)?", value) is None:
            raise t.error("tier_multipliers", f"{tier} = {value!r} is not a decimal multiplier",
                          "write multipliers as strings, such as gold = \"2\" or silver = \"1.5\"")
    return section


def _pickup(t: Table, agent: AgentSection, check: bool) -> PickupSection:
    section = PickupSection(
        locker=t.string("locker", "none", pattern=r"[a-z0-9_.+-]+",
                        fix="use \"none\", \"simulated\" or the name of an installed locker driver"),
        compartments=t.integer("compartments", 24, 1, 10_000),
        open_timeout_s=t.integer("open_timeout_s", 15, 1, 300),
        simulated_fault=t.choice("simulated_fault", "none", ("none", "jammed", "offline")),
        options=t.table("options"),
    )
    t.finish()
    if section.locker == "simulated" and not agent.allow_simulators:
        raise t.error("locker", "'simulated' is a simulator: no door opens and orders would be reported collected",
                      "set allow_simulators = true in [agent] (development and demos only), or name the store's "
                      "locker driver")
    if section.simulated_fault != "none" and section.locker != "simulated":
        raise t.error("simulated_fault", f"is set but locker is {section.locker!r}",
                      "remove simulated_fault, or set locker = \"simulated\"")
    if section.locker != "none" and check:
        _check_locker(t, section)
    return section


def _check_locker(t: Table, section: PickupSection) -> None:
    """Let the locker driver validate its options now, so a typo fails `config check`, not the first pickup."""
    from drivers.base import DriverOptionError
    from drivers.lockers import UnknownLocker, create

    try:
        create(section.locker, section.driver_options)
    except UnknownLocker as exc:
        raise t.error("locker", str(exc), "use \"none\", or install the locker's package") from None
    except DriverOptionError as exc:
        raise t.error(f"options.{exc.key}" if exc.key else "options", str(exc),
                      "see the locker driver's documentation for its keys") from None
    except ImportError as exc:
        raise t.error("locker", f"the {section.locker} locker cannot be loaded ({exc})",
                      "install the package that provides it") from None
