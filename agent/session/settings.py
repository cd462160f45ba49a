"""The `[session]`, `[points]` and `[pickup]` config sections: the visit's limits, tax and receipt issuer, how
members earn points, and the locker that hands over online orders.

Parsed once at start like every section (agent/config.py assembles them); the session's rules, pricing and
shell read them. No I/O here but the locker driver's own check of its options (`check`, as `config check` does).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.config_table import Table


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


ROUNDING = ("down", "half_up", "up")
KEYED_CODES = ("allowed", "approval", "refused")


def parse_session(t: Table) -> SessionSection:
    """`[session]`; every key optional. A registration number is checked down to its check digit."""
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


def parse_points(t: Table) -> PointsSection:
    """`[points]` (present: members earn points); multipliers are decimal strings, never floats."""
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


def parse_pickup(t: Table, allow_simulators: bool, check: bool) -> PickupSection:
    """`[pickup]`; every key optional. With `check`, the locker driver validates its options now."""
    section = PickupSection(
        locker=t.string("locker", "none", pattern=r"[a-z0-9_.+-]+",
                        fix="use \"none\", \"simulated\" or the name of an installed locker driver"),
        compartments=t.integer("compartments", 24, 1, 10_000),
        open_timeout_s=t.integer("open_timeout_s", 15, 1, 300),
        simulated_fault=t.choice("simulated_fault", "none", ("none", "jammed", "offline")),
        options=t.table("options"),
    )
    t.finish()
    if section.locker == "simulated" and not allow_simulators:
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
