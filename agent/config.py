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

from agent.catalog.settings import CatalogSection, parse_catalog
from agent.config_table import Table
from agent.devices import DeviceSection, parse_devices
from agent.errors import ConfigError
from agent.interpret.rules import InterpretSection, TrustSection, parse_trust
from agent.interpret.rules import parse_section as _interpret
from agent.payment.settings import PaymentSection, parse_payment
from agent.sync.settings import MqttSection, parse_mqtt

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
        payment=parse_payment(Table.of(data, "payment", where), agent.allow_simulators),
        devices=devices,
        mqtt=parse_mqtt(Table.of(data, "mqtt", where), agent.store_id, agent.lane_id) if "mqtt" in data else None,
        catalog=(parse_catalog(Table.of(data, "catalog", where), agent.store_id, agent.lane_id)
                 if "catalog" in data else None),
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
