"""Whether a visit is audited, and which lines (pure): the catalog's audit policy applied to the basket.

Why data: the chance of an audit is the retailer's trade between shrink and the shopper's time, and it changes
by store and season, so it comes with the catalog's `policy` records (docs/catalog.md, "Random audit") and the
lane only computes. Probabilities are whole basis points (1 bp = 0.01 %) so the policy stays whole numbers.

The chance is the base (`audit_base_bp`, or `[session] audit_rate` while the cloud sent none) plus each risk
factor that holds: every `audit_value_step` of basket value, every `audit_items_step` items, an age-restricted
item, a member of fewer than `audit_new_member_days` days or no member at all, each past audit of the member
that found a difference; less each clean past audit (trust earned); held within `audit_min_bp`..`audit_max_bp`.

The k lines staff rescan are picked by a generator seeded with the visit's ID: the same visit always gets the
same lines, so an audit recomputed after a restart (or by a test) asks for the same items.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime

from agent.catalog.records import OfflinePolicy

FULL_BP = 10_000


@dataclass(frozen=True, slots=True)
class RiskFacts:
    """What the policy weighs, read from the visit and the member's cached record."""

    basket_value: int                   # the total, minor units
    items: int                          # units in the basket
    restricted: bool                    # an age-restricted item is in it
    member: bool = False                # a member is identified
    member_days: int | None = None      # the member's tenure in days (None: not known, not counted as new)
    audits: int = 0                     # the member's past audits (the cloud's history, cached in the catalog)
    audit_findings: int = 0             # of those, the audits that found a difference


def probability_bp(policy: OfflinePolicy, facts: RiskFacts, base_rate: float = 0.0) -> int:
    """The chance this visit is audited, in basis points (0..10000)."""
    bp = policy.audit_base_bp or round(base_rate * FULL_BP)
    if policy.audit_value_step:
        bp += policy.audit_value_bp * (facts.basket_value // policy.audit_value_step)
    if policy.audit_items_step:
        bp += policy.audit_items_bp * (facts.items // policy.audit_items_step)
    if facts.restricted:
        bp += policy.audit_restricted_bp
    if not facts.member:
        bp += policy.audit_no_member_bp
    elif facts.member_days is not None and facts.member_days < policy.audit_new_member_days:
        bp += policy.audit_new_member_bp
    clean = max(0, facts.audits - facts.audit_findings)
    bp += policy.audit_finding_bp * facts.audit_findings - policy.audit_clean_bp * clean
    return max(policy.audit_min_bp, min(policy.audit_max_bp, FULL_BP, bp), 0)


def audited(draw: float, bp: int) -> bool:
    """`draw` is uniform in [0, 1): the visit is audited with probability bp / 10000."""
    return draw * FULL_BP < bp


def pick_lines(visit_id: str, line_ids: tuple[str, ...], k: int) -> tuple[str, ...]:
    """The k lines to rescan (every line when k is 0 or at least their number), in basket order."""
    if k <= 0 or k >= len(line_ids):
        return line_ids
    seed = int.from_bytes(hashlib.sha256(f"audit:{visit_id}".encode()).digest()[:8], "big")
    chosen = set(random.Random(seed).sample(line_ids, k))   # noqa: S311 - reproducible choice, not a secret
    return tuple(line_id for line_id in line_ids if line_id in chosen)


def tenure_days(since: str | None, now: float) -> int | None:
    """Days from the member's `since` (ISO date) to `now`'s UTC date; None when the cloud did not say."""
    if since is None:
        return None
    return max(0, (datetime.fromtimestamp(now, UTC).date() - date.fromisoformat(since)).days)
