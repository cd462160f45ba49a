"""TOML config read once at start into frozen, typed sections; every refusal names the file, the key and the fix.

This module reads the file, parses `[agent]` (who the lane is, read by several packages) and assembles the
sections. Each package parses and validates its own section with the typed reads of `config_table`
(`settings.py` in api/, catalog/, payment/, receipts/, session/ and sync/; `rules.py` in interpret/; `devices.py`); this
module imports their parsers, so no package imports it.

Each component receives its own section, never the whole config. Secret files (tokens, keys, passwords)
must not be world-readable; a bare file name (no slash) is looked up in `$CREDENTIALS_DIRECTORY`, where
systemd's `LoadCredential=` puts it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.api.settings import ApiSection, parse_api
from agent.attendant.settings import AttendantSection, parse_attendant
from agent.bagging.settings import BaggingSection, parse_bagging
from agent.catalog.settings import CatalogSection, parse_catalog
from agent.config_table import Table
from agent.devices import DeviceSection, parse_devices
from agent.errors import ConfigError
from agent.interpret.rules import InterpretSection, TrustSection, parse_trust
from agent.interpret.rules import parse_section as _interpret
from agent.payment.settings import PaymentSection, parse_payment
from agent.receipts.settings import ReceiptsSection, parse_receipts
from agent.session.settings import (
    PickupSection,
    PointsSection,
    SessionSection,
    parse_pickup,
    parse_points,
    parse_session,
)
from agent.sync.settings import MqttSection, parse_mqtt

DEFAULT_PATH = Path("/etc/omo-edge/agent.toml")
SECTIONS = ("agent", "mqtt", "api", "catalog", "trust", "payment", "devices", "interpret", "session", "points",
            "pickup", "attendant", "bagging", "receipts")
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
    attendant: AttendantSection = AttendantSection()
    bagging: BaggingSection = BaggingSection()
    receipts: ReceiptsSection = ReceiptsSection()


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
    return _agent(Table.of(data, "agent", str(path), required=True)), parse_api(Table.of(data, "api", str(path)))


def api_listen(listen: str, where: str) -> ApiSection:
    """An `[api] listen` value given elsewhere (`status --api`), checked by the same rules."""
    return parse_api(Table({"listen": listen}, "api", where))


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
        api=parse_api(Table.of(data, "api", where)),
        trust=parse_trust(Table.of(data, "trust", where)),
        payment=parse_payment(Table.of(data, "payment", where), agent.allow_simulators),
        devices=devices,
        mqtt=parse_mqtt(Table.of(data, "mqtt", where), agent.store_id, agent.lane_id) if "mqtt" in data else None,
        catalog=(parse_catalog(Table.of(data, "catalog", where), agent.store_id, agent.lane_id)
                 if "catalog" in data else None),
        interpret=_interpret(Table.of(data, "interpret", where)),
        session=parse_session(Table.of(data, "session", where)),
        points=parse_points(Table.of(data, "points", where)) if "points" in data else None,
        pickup=parse_pickup(Table.of(data, "pickup", where), agent.allow_simulators, check_devices),
        attendant=parse_attendant(Table.of(data, "attendant", where), check_devices),
        bagging=parse_bagging(Table.of(data, "bagging", where), check_devices),
        receipts=parse_receipts(Table.of(data, "receipts", where), check_devices),
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
