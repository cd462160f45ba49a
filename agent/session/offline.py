"""The catalog's offline policy applied to the visit: whether it holds now, and what it limits.

The policy (docs/catalog.md "Offline policy") holds whenever the catalog is stale or absent, and it is asked
when the money is worked out, not when an item was scanned: a basket taken while the catalog was fresh is held
to it once the catalog goes stale (and freed when the cloud confirms the catalog again). Where each key acts:
- `member_prices`, `max_coupon_value`, `points_redemption`: in the one pricing engine (agent/session/rules/totals.py);
- `max_sale_total`: here, `over_sale_cap`: a step that would take the total past it is refused, and so is paying
  for a basket already past it (the controller and checkout ask);
- `single_use_coupons`: when a coupon is scanned (agent/session/rules/scan_rules.py); `payment_kinds`: at payment.
"""

from __future__ import annotations

from collections.abc import Callable

from agent.catalog.db import CatalogDb
from agent.catalog.records import OfflinePolicy

OfflineLookup = Callable[[], OfflinePolicy | None]      # None: the catalog is fresh and no limit applies
DEFAULT_MAX_AGE_S = 86400.0                             # [catalog] max_age_s's default


def fresh() -> OfflinePolicy | None:
    """The lookup of a lane without a catalog to judge (tools, older tests): no limit."""
    return None


def is_stale(catalog: CatalogDb, max_age_s: float) -> bool:
    """True when the offline policy applies: no catalog loaded, or not confirmed by the cloud for `max_age_s`."""
    status = catalog.status()
    return not status.loaded or status.age_s is None or status.age_s > max_age_s


class CatalogOffline:
    """The policy in force now for this lane's catalog: None while it is fresh.

    Asked on every commit (the screen's view is priced each time), so the answer is kept for the rest of the
    catalog clock's second: reading the catalog's status and policy costs about 0.1 ms on the lane, which
    staleness measured in hours does not need, while a scan's commit has 5 ms in all (docs/session.md). A new
    catalog generation is asked about at once: a lane that had none must not stay "offline" for the rest of the
    second its first catalog arrived in.
    """

    def __init__(self, catalog: CatalogDb, max_age_s: float = DEFAULT_MAX_AGE_S) -> None:
        self.catalog = catalog
        self.max_age_s = max_age_s
        # (the second asked, the catalog generation then, the answer)
        self._kept: tuple[int, object, OfflinePolicy | None] | None = None

    def __call__(self) -> OfflinePolicy | None:
        second, generation = int(self.catalog.clock.time()), self.catalog.database
        if self._kept is None or self._kept[0] != second or self._kept[1] is not generation:
            answer = self.catalog.policy() if is_stale(self.catalog, self.max_age_s) else None
            self._kept = (second, generation, answer)
        return self._kept[2]


def over_sale_cap(total_before: int, total_after: int, policy: OfflinePolicy | None) -> bool:
    """Whether a step breaks `max_sale_total`: it takes the total past the cap. A step that lowers the total (a
    void, a coupon) is never refused, even on a basket already past it, so the shopper can get under it."""
    return policy is not None and total_after > policy.max_sale_total and total_after > total_before


def sale_cap_message(policy: OfflinePolicy) -> str:
    return (f"While the store is offline one sale can be at most {policy.max_sale_total}. Your basket is kept: "
            "please take an item off, or ask a member of staff.")
