"""The lane's `[bagging]` config section (docs/config.md): the scale, the tolerances, timeouts and allowances.

Weights in config are integer grams (what a store manager reads on a scale); the rules work in integer
milligrams, as the scale drivers report. Disabled by default: a lane without a bagging-area scale sells as
before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent.config_table import Table

MG_PER_G = 1000


@dataclass(frozen=True, slots=True)
class BaggingSection:
    enabled: bool = False
    scale: Mapping[str, Any] | None = None    # {driver = "...", options...} for drivers.scales.open_scale
    tolerance_g: int = 10                     # an item's tolerance when the catalog gives none ...
    tolerance_percent: int = 5                # ... or this share of its weight, whichever is larger
    min_change_g: int = 5                     # a settled change smaller than this is the scale's noise
    place_timeout_s: float = 10.0             # after a scan: "place the item in the bag" ...
    call_after_s: float = 10.0                # ... and this much later an `item_not_bagged` call
    bag_allowance_g: int = 100                # the shopper's own bag, once per visit, before or between items
    skip_max_g: int = 0                       # "skip bagging" allowed without a call up to this weight
    motion_timeout_s: float = 5.0             # in motion (or silent) longer than this: no weight check
    learn_min_samples: int = 5                # accepted single-item weighings before a learned weight is used

    def tolerance_mg(self, weight_mg: int, catalog_tolerance_g: int | None = None) -> int:
        """The catalog's tolerance for the item when it gives one, else the larger of the two defaults."""
        if catalog_tolerance_g is not None:
            return catalog_tolerance_g * MG_PER_G
        return max(self.tolerance_g * MG_PER_G, weight_mg * self.tolerance_percent // 100)


def parse_bagging(t: Table, check: bool = True) -> BaggingSection:
    """`[bagging]`; every key optional. Enabled needs a `scale`; with `check` its driver validates the options
    (without opening the device), so a typo fails `config check`, not the first visit."""
    scale = t.table("scale") or None
    section = BaggingSection(
        enabled=t.boolean("enabled", False), scale=scale,
        tolerance_g=t.integer("tolerance_g", 10, 1, 5000),
        tolerance_percent=t.integer("tolerance_percent", 5, 0, 50),
        min_change_g=t.integer("min_change_g", 5, 1, 1000),
        place_timeout_s=_seconds(t, "place_timeout_s", 10.0),
        call_after_s=_seconds(t, "call_after_s", 10.0),
        bag_allowance_g=t.integer("bag_allowance_g", 100, 0, 5000),
        skip_max_g=t.integer("skip_max_g", 0, 0, 100_000),
        motion_timeout_s=_seconds(t, "motion_timeout_s", 5.0),
        learn_min_samples=t.integer("learn_min_samples", 5, 2, 1000))
    t.finish()
    if section.enabled and scale is None:
        raise t.error("scale", "bagging is enabled but no scale is named",
                      'write scale = { driver = "scp01", port = "/dev/ttyUSB1" }, or enabled = false')
    if scale is not None and not isinstance(scale.get("driver"), str):
        raise t.error("scale", "needs a `driver`", 'write scale = { driver = "scp01", port = "/dev/ttyUSB1" }')
    if scale is not None and check:
        _check_scale(t, scale)
    return section


def _seconds(t: Table, key: str, default: float) -> float:
    value = t.number(key, default)
    if not 0 < value <= 600:
        raise t.error(key, f"{value} is out of range", "use a number of seconds above 0 and at most 600")
    return float(value)


def _check_scale(t: Table, scale: Mapping[str, Any]) -> None:
    from drivers.base import DriverOptionError
    from drivers.scales import UnknownScale, open_scale

    try:
        open_scale(str(scale["driver"]), {k: v for k, v in scale.items() if k != "driver"})
    except UnknownScale as exc:
        raise t.error("scale", str(exc), "name a driver of the omo_edge.scales group") from None
    except DriverOptionError as exc:
        raise t.error(f"scale.{exc.key}" if exc.key else "scale", str(exc),
                      "see docs/drivers.md for the scale driver's keys") from None
