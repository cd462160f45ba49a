"""The lane's `[attendant]` config section: which stations it trusts, how long a command may live, how often an
idle lane says it is alive, what may be decided remotely, and the lane light (docs/config.md).

Why "remote" per reason: an age check needs someone who can see the shopper, so by default it is decided only
at the lane; the rest (an unknown item, a random audit, failed payments) a member of staff can decide from the
basket and the detail on the attendant page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from agent.config_table import Table

REASONS = ("age_restricted", "expired_item", "unknown_item", "payment_failures", "random_audit", "shopper_call",
           "keyed_code", "unexpected_item", "item_not_bagged", "item_removed", "skip_bagging")
# What only someone at the lane can judge: the shopper's age, and what is in the bag (the bagging scale's calls;
# an item not bagged yet may be settled by telling the shopper, from the station).
AT_LANE = ("age_restricted", "unexpected_item", "item_removed", "skip_bagging")
DEFAULT_REMOTE: Mapping[str, str] = MappingProxyType({r: "at_lane" if r in AT_LANE else "remote"
                                                      for r in REASONS})


@dataclass(frozen=True, slots=True)
class AttendantSection:
    keys: tuple[Path, ...] = ()                 # station public keys (kid = file stem); none: commands disabled
    station_ids: tuple[str, ...] = ()           # none: any station whose key is trusted
    command_max_age_s: int = 10
    heartbeat_s: int = 30
    remote: Mapping[str, str] = field(default_factory=lambda: DEFAULT_REMOTE)
    light: Mapping[str, Any] | None = None      # {driver = "...", options...} for drivers.lights.open_light

    @property
    def enabled(self) -> bool:
        """Remote commands are taken only with at least one station key."""
        return bool(self.keys)

    def remote_allowed(self, reason: str) -> bool:
        """Whether an intervention of this reason may be approved or rejected from the station."""
        return self.remote.get(reason, "remote") == "remote"


def parse_attendant(t: Table, check: bool = True) -> AttendantSection:
    """`[attendant]` with `[attendant.remote]`; every key optional. Unknown reasons are refused here; with `check`
    the light's driver validates its options (without opening the device)."""
    station_ids = t._get("station_ids", [], list, "a list of strings")
    if not all(isinstance(s, str) and s for s in station_ids):
        raise t.error("station_ids", f"expected station ID strings, got {station_ids!r}",
                      'write station_ids = ["station-1", ...]')
    remote = t.table("remote")
    light = t.table("light") or None          # {} (the default): no light
    section = AttendantSection(
        keys=t.readable_files("keys"), station_ids=tuple(station_ids),
        command_max_age_s=t.integer("command_max_age_s", 10, 1, 300),
        heartbeat_s=t.integer("heartbeat_s", 30, 1, 3600),
        remote=MappingProxyType({**DEFAULT_REMOTE, **_remote(t, remote)}), light=light)
    t.finish()
    if light is not None and not isinstance(light.get("driver"), str):
        raise t.error("light", "needs a `driver`", 'write light = { driver = "relay_serial", port = "/dev/ttyUSB0" }')
    if light is not None and check:
        _check_light(t, light)
    return section


def _check_light(t: Table, light: Mapping[str, Any]) -> None:
    """Let the light driver validate its options now, so a typo fails `config check`, not the first call."""
    from drivers.base import DriverOptionError
    from drivers.lights import UnknownLight, open_light

    driver = str(light["driver"])
    try:
        open_light(driver, {k: v for k, v in light.items() if k != "driver"})
    except UnknownLight as exc:
        raise t.error("light", str(exc), "name a driver of the omo_edge.lights group") from None
    except DriverOptionError as exc:
        raise t.error(f"light.{exc.key}" if exc.key else "light", str(exc),
                      "see docs/drivers.md for the light driver's keys") from None


def _remote(t: Table, remote: Mapping[str, Any]) -> dict[str, str]:
    for reason, where in remote.items():
        if reason not in REASONS:
            raise t.error(f"remote.{reason}", "is not an intervention reason",
                          f"use one of {', '.join(REASONS)}")
        if where not in ("remote", "at_lane"):
            raise t.error(f"remote.{reason}", f"must be \"remote\" or \"at_lane\", not {where!r}",
                          '"at_lane" needs someone at the lane; "remote" lets the attendant station decide')
    return dict(remote)
