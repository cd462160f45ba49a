"""Which rule a scan's meaning goes to, with the catalog facts looked up for it beforehand (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.catalog.records import Coupon as CouponRecord
from agent.catalog.records import Member as MemberRecord
from agent.catalog.records import OfflinePolicy
from agent.catalog.records import Product as ProductRecord
from agent.catalog.records import Promotion as PromotionRecord
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
from agent.session.rules import action_rules, pickup_rules, scan_rules
from agent.session.rules.basket import Session
from agent.session.rules.pickup_rules import PickupFacts
from agent.session.rules.scan_rules import NewId
from agent.session.rules.visit_change import Change, refuse
from agent.session.settings import SessionSection


@dataclass(frozen=True, slots=True)
class Facts:
    """What the offline catalog said about the scan, read before the change is computed."""

    product: ProductRecord | None = None
    promotions: list[PromotionRecord] = field(default_factory=list)
    member: MemberRecord | None = None
    points_spent: int = 0                 # the member's redemptions in this lane's ledger since `member`'s balance
    coupon: CouponRecord | None = None
    coupon_uses: int = 0
    policy: OfflinePolicy = OfflinePolicy()
    stale: bool = False
    suspended: Session | None = None      # the basket kept under a scanned suspend code
    pickup: PickupFacts | None = None     # an order's facts; None: this lane has no locker ([pickup] locker)
    keyed: bool = False                   # typed on the screen's keypad, not scanned ([session] keyed_codes)


def scan_change(session: Session, meaning: Meaning, facts: Facts, *, settings: SessionSection, now: float,
                new_id: NewId, clock_synced: bool) -> Change:
    """The change one scan makes to the visit (payment codes are started by the controller, not here)."""
    if isinstance(meaning, Product):
        return scan_rules.on_product(session, meaning, facts.product, facts.promotions, settings=settings, now=now,
                                     new_id=new_id, clock_synced=clock_synced, keyed=facts.keyed)
    if isinstance(meaning, Member):
        return scan_rules.on_member(session, meaning, facts.member, settings=settings, now=now, new_id=new_id,
                                    clock_synced=clock_synced, points_spent=facts.points_spent)
    if isinstance(meaning, Coupon):
        return scan_rules.on_coupon(session, meaning, facts.coupon, uses=facts.coupon_uses, policy=facts.policy,
                                    stale=facts.stale, settings=settings, now=now)
    if isinstance(meaning, StaffCode):
        return action_rules.staff_scan(session, meaning, settings=settings, now=now)
    if isinstance(meaning, PaymentCode):
        return Change(session, scan_fields={"session_id": session.session_id or None})
    if isinstance(meaning, PickupOrder):
        return pickup_rules.on_order(session, meaning, facts.pickup, now=now)
    if isinstance(meaning, Unknown) and action_rules.is_suspend_code(meaning.text):
        return action_rules.resume(session, meaning.text.strip(), facts.suspended, settings, now, new_id)
    if isinstance(meaning, Invalid):
        return refuse(session, f"invalid_{meaning.reason}", "This code could not be read as valid. Please try again "
                      "or ask a member of staff.", outcome="rejected")
    return refuse(session, "unknown_code", "This code is not one we know. Please scan the item's barcode.",
                  "info", outcome="unknown")
