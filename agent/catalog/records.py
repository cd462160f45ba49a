"""What catalog lookups return: small frozen records, plus the offline policy with its safe defaults.

The offline policy says what a lane may still do when its catalog is stale (older than `max_age_s`) or
absent. It is data in the catalog (`"kind": "policy"` lines) so the cloud can change it; the defaults
below apply to every key the cloud has not sent, and they err on the side of not giving money away.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class Product:
    gtin: str
    name: str
    price: int                  # in force at the time asked about (a time-limited price, else the regular one)
    tax_rate: str               # canonical spelling (agent/catalog/rates.py), also from an older agent's file
    member_price: int | None    # in force at that time; never above `price`
    department: str | None
    age_restricted: bool
    sale_stop: bool
    deposit: int                # always 0 from a current import: a non-zero deposit is refused (docs/catalog.md)
    unit: str | None            # None: by piece; "kg", "100g" ...: `price` is per that unit
    version: int
    regular_price: int
    names: Mapping[str, str] = field(default_factory=dict)   # per language ({"ja": ..., "en": ...}); `name` else
    weight_g: int | None = None             # a unit in the bag (the bagging-area scale); None: not given
    weight_tolerance_g: int | None = None   # None: the lane's default tolerance
    weight_exempt: bool = False             # the scale does not check it (too light, or not bagged)


@dataclass(frozen=True, slots=True)
class Promotion:
    promo_id: str
    type: str                   # bundle | percent | amount
    quantity: int
    bundle_price: int | None
    percent: str | None
    amount: int | None
    member_only: bool
    valid_from: int | None
    valid_to: int | None
    version: int
    days_before: int = 0        # expiry_markdown: from this many days before the label's expiry day


@dataclass(frozen=True, slots=True)
class SaleStop:
    """A lot that must not be sold (a recall, a quality hold); lot "*" is every lot of the GTIN."""

    gtin: str
    lot: str
    reason: str                 # recall | quality | ...
    message: str                # what the shopper is told to do
    message_ja: str | None
    version: int


@dataclass(frozen=True, slots=True)
class Coupon:
    coupon_id: str
    amount: int | None
    percent: str | None
    conditions: Mapping[str, Any]
    valid_from: int | None
    valid_to: int | None
    max_uses: int | None
    version: int


@dataclass(frozen=True, slots=True)
class Member:
    member_id: str
    tier: str
    status: str
    points: int                 # balance as of `version`
    consent_interest: bool
    version: int
    # The cloud's history of the member, for the random audit's risk (docs/catalog.md, "Random audit").
    since: str | None = None    # ISO date the member joined (None: not known)
    audits: int = 0             # past audits of the member
    audit_findings: int = 0     # of those, the ones that found a difference
    receipt: str | None = None  # the receipt chosen in the app: paper | app | none; None: the lane's default


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    member_id: str | None
    items: tuple[tuple[str, int], ...]   # (gtin, qty)
    status: str
    locker: str | None
    version: int


@dataclass(frozen=True, slots=True)
class TrustedKey:
    kid: str
    public_key: str
    valid_from: int | None
    valid_to: int | None
    version: int


@dataclass(frozen=True, slots=True)
class OfflinePolicy:
    """What is allowed while the catalog is stale or absent, and how a label's dates are judged when the lane's
    clock cannot be trusted (asked at every scan). Defaults are the safe choice."""

    member_prices: bool = True          # a stale member price costs little
    points_redemption: bool = False     # a stale balance could be spent twice
    single_use_coupons: bool = False    # use on another lane cannot be seen
    payment_kinds: tuple[str, ...] = ("card", "cash")
    max_sale_total: int = 30000         # minor units per sale
    max_coupon_value: int = 1000        # minor units per coupon
    # A dated label (GS1 AI 17) the lane's clock calls past while that clock is not trusted: call an attendant,
    # refuse it, or accept it (POLICY_CHOICES); with a trusted clock a past expiry is always refused.
    expiry_when_clock_untrusted: str = "attendant"
    refuse_past_best_before: bool = False   # a best-before date (AI 15) in the past refuses the item like expiry
    # The random audit (docs/catalog.md, "Random audit"; agent/session/rules/audit_policy.py): asked at every
    # payment, stale catalog or not. Chances in basis points (100 = 1 %).
    audit_base_bp: int = 0              # 0: the lane's [session] audit_rate
    audit_value_step: int = 10000       # every this much basket value (minor units) adds audit_value_bp
    audit_value_bp: int = 0
    audit_items_step: int = 10          # every this many items adds audit_items_bp
    audit_items_bp: int = 0
    audit_restricted_bp: int = 0        # an age-restricted item in the basket
    audit_no_member_bp: int = 0         # no member identified
    audit_new_member_days: int = 90     # a member of fewer days than this adds audit_new_member_bp
    audit_new_member_bp: int = 0
    audit_finding_bp: int = 0           # per past audit of the member that found a difference
    audit_clean_bp: int = 0             # taken off per past clean audit of the member (trust)
    audit_min_bp: int = 0
    audit_max_bp: int = 10000
    audit_lines: int = 3                # k: the lines staff rescan (0: every line)
    audit_full_on_mismatch: bool = True  # a difference in the k lines asks for a rescan of every line
    version: int = 0                    # 0: nothing from the cloud, all defaults

    @classmethod
    def from_rows(cls, rows: list[tuple[str, str, int]]) -> OfflinePolicy:
        """Overlay the cloud's keys on the defaults; a key of the wrong type keeps its default."""
        policy = cls()
        known = {f.name: f for f in fields(cls)}
        for key, raw, version in rows:
            value = json.loads(raw)
            default = getattr(policy, key, None) if key in known and key != "version" else None
            if default is None or not _same_type(default, value) or value not in POLICY_CHOICES.get(key, (value,)):
                continue
            override: dict[str, Any] = {key: tuple(value) if isinstance(default, tuple) else value}
            policy = replace(policy, **override, version=max(policy.version, version))
        return policy


# The policy keys whose value is one word from a closed list.
POLICY_CHOICES: dict[str, tuple[str, ...]] = {"expiry_when_clock_untrusted": ("attendant", "refuse", "accept")}


def _same_type(default: object, value: object) -> bool:
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return type(value) is int and value >= 0
    if isinstance(default, tuple):
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return False


@dataclass(frozen=True, slots=True)
class CatalogStatus:
    """What `omo-edge catalog status` and `/v1/health` show."""

    loaded: bool
    version: int
    loaded_at: float | None     # epoch seconds the current snapshot was swapped in
    checked_at: float | None    # last time the cloud confirmed it (snapshot, 304 or delta)
    age_s: float | None         # now - checked_at
    etag: str | None
    counts: Mapping[str, int]
    path: str | None
    source: str = ""            # cloud | import (by hand) | unknown (an older agent's file) | "" (none loaded)
    cloud_version: int = 0      # the newest cloud snapshot this lane loaded; a replay older than it is refused
    imported_from: str | None = None   # the file a hand import came from

    @property
    def from_cloud(self) -> bool:
        return self.source == "cloud"

    def source_label(self) -> str:
        return {"cloud": "from the cloud", "import": "imported by hand", "": "none loaded"}.get(
            self.source, "source unknown")

    def provenance(self) -> str:
        """Where the catalog came from and what happens next, for `catalog status` and the agent's health."""
        if self.source in ("cloud", ""):
            return self.source_label()
        later = "the cloud's next snapshot replaces it (or `omo-edge catalog reset`)"
        if self.source == "import":
            return f"imported by hand from {self.imported_from or 'a file'}, not the cloud's: {later}"
        return f"source unknown (loaded by an older agent), not known to be the cloud's: {later}"

    def as_dict(self) -> dict[str, Any]:
        return {"loaded": self.loaded, "version": self.version, "loaded_at": self.loaded_at,
                "checked_at": self.checked_at, "age_s": None if self.age_s is None else round(self.age_s, 1),
                "etag": self.etag, "counts": dict(self.counts), "path": self.path, "source": self.source,
                "cloud_version": self.cloud_version, "imported_from": self.imported_from}
