"""The one table of the kinds of code a scan can mean, keyed by the meaning's type (agent/interpret/meanings.py).

Each entry says, for its kind: how its catalog facts are read (I/O, before the change), which pure rule in
agent/session/rules/scan_changes.py computes the change, what the screen is shown, and what starts after the
commit (a wallet code's payment, a pickup's handover). The pipeline looks the entry up once per scan and never
asks a meaning its kind again, so a new kind of code touches the router, its meaning and this table only
(tests/session/test_scan_kinds.py fails while a meaning has no entry).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from agent.catalog.db import CatalogDb
from agent.catalog.records import OfflinePolicy
from agent.interpret.meanings import (
    Coupon,
    Invalid,
    Meaning,
    Member,
    PaymentCode,
    PickupOrder,
    Product,
    StaffCode,
    Unknown,
)
from agent.session.controller import Committed, SessionController
from agent.session.pickup_handover import Pickups
from agent.session.rules import scan_changes
from agent.session.rules.action_rules import is_suspend_code
from agent.session.rules.basket import Session
from agent.session.rules.outcome import member_fields, member_record, product_fields
from agent.session.rules.scan_changes import Facts, ScanContext
from agent.session.rules.visit_change import Change

M = TypeVar("M", bound=Meaning)
Fields = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Lookups:
    """What a kind may read before the change: the pipeline's collaborators as they are at this scan."""

    catalog: CatalogDb | None             # None: no catalog yet, so no facts from it
    session: SessionController | None     # None: scans are recorded only (tools and older tests)
    pickups: Pickups | None               # None: this lane has no locker
    stale: Callable[[], bool]             # past [catalog] max_age_s; reads the catalog, so asked only when needed


@dataclass(frozen=True, slots=True)
class Started:
    """What a kind may start once its scan and change are committed."""

    session: SessionController
    committed: Committed
    pickups: Pickups | None
    pay: Callable[[str], None] | None     # starts a wallet-code payment as a task; None: no checkout


@dataclass(frozen=True, slots=True)
class Kind(Generic[M]):
    """One kind of code: its facts, its pure change, its screen fields and what follows the commit."""

    facts: Callable[[M, Lookups], Facts]
    change: Callable[[Session, M, Facts, ScanContext], Change]
    display: Callable[[M, Facts], tuple[Fields, Fields]] | None = None    # (outcome, display) when a catalog is loaded
    after: Callable[[M, Facts, Started], None] | None = None


def no_facts(meaning: Meaning, lookups: Lookups) -> Facts:
    return Facts()


def product_facts(meaning: Product, lookups: Lookups) -> Facts:
    if lookups.catalog is None:
        return Facts()
    product, promotions = lookups.catalog.item(meaning.gtin14)
    dated = meaning.expiry is not None or meaning.best_before is not None
    return Facts(product=product, promotions=promotions, sale_stop=lookups.catalog.sale_stop(meaning.gtin14,
                 meaning.batch), policy=lookups.catalog.policy() if dated else OfflinePolicy())


def member_facts(meaning: Member, lookups: Lookups) -> Facts:
    if lookups.catalog is None:
        return Facts()
    record = member_record(meaning, lookups.catalog)
    session = lookups.session
    spent = 0 if record is None or session is None else session.points_spent(record.member_id, record.version)
    return Facts(member=record, points_spent=spent)


def coupon_facts(meaning: Coupon, lookups: Lookups) -> Facts:
    catalog, session = lookups.catalog, lookups.session
    if catalog is None or session is None:
        return Facts()
    return Facts(coupon=catalog.coupon(meaning.coupon_id), coupon_uses=session.coupon_uses(meaning.coupon_id),
                 policy=catalog.policy(), stale=lookups.stale())


def pickup_facts(meaning: PickupOrder, lookups: Lookups) -> Facts:
    """An order is looked up even without a catalog (then it counts as offline); no locker, no facts."""
    if lookups.pickups is None:
        return Facts()
    offline = lookups.catalog is None or lookups.stale()
    return Facts(pickup=lookups.pickups.facts(meaning.order_id, lookups.catalog, offline))


def unknown_facts(meaning: Unknown, lookups: Lookups) -> Facts:
    """A suspend code reads the basket kept under it; any other unknown code reads nothing."""
    if lookups.session is not None and is_suspend_code(meaning.text):
        return Facts(suspended=lookups.session.suspended(meaning.text.strip()))
    return Facts()


def product_display(meaning: Product, facts: Facts) -> tuple[Fields, Fields]:
    return product_fields(meaning, facts.product)


def member_display(meaning: Member, facts: Facts) -> tuple[Fields, Fields]:
    return member_fields(meaning, facts.member)


def start_payment(meaning: PaymentCode, facts: Facts, started: Started) -> None:
    """A replayed scan pays nothing: it was paid (or refused) when first seen."""
    if not started.committed.replayed and started.pay is not None:
        started.pay(meaning.code)


def start_handover(meaning: PickupOrder, facts: Facts, started: Started) -> None:
    """Claim, open the door, record: a task of the locker's, only for an accepted order."""
    if started.pickups and facts.pickup and started.committed.change.ok:
        started.pickups.start(started.session, meaning, facts.pickup)


KINDS: dict[type[Any], Kind[Any]] = {
    Product: Kind(product_facts, scan_changes.product_change, display=product_display),
    Member: Kind(member_facts, scan_changes.member_change, display=member_display),
    Coupon: Kind(coupon_facts, scan_changes.coupon_change),
    StaffCode: Kind(no_facts, scan_changes.staff_change),
    PaymentCode: Kind(no_facts, scan_changes.payment_change, after=start_payment),
    PickupOrder: Kind(pickup_facts, scan_changes.pickup_change, after=start_handover),
    Unknown: Kind(unknown_facts, scan_changes.unknown_change),
    Invalid: Kind(no_facts, scan_changes.invalid_change),
}


def kind_of(meaning: Meaning) -> Kind[Any]:
    """The entry for a meaning's exact type (a KeyError here is a kind missing from the table)."""
    return KINDS[type(meaning)]
