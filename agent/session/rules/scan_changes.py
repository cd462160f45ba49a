"""The change each kind of scan makes to the visit, from the catalog facts read for it beforehand (pure).

One function per kind of meaning, all with the same signature, so the shell's table of kinds
(agent/session/scan_kinds.py) holds them side by side and picks one by the meaning's type: nothing here
switches on the kind. Payment codes are paid by the checkout after the commit, not here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from agent.catalog.records import Coupon as CouponRecord
from agent.catalog.records import Member as MemberRecord
from agent.catalog.records import OfflinePolicy, SaleStop
from agent.catalog.records import Product as ProductRecord
from agent.catalog.records import Promotion as PromotionRecord
from agent.interpret.meanings import Coupon, Invalid, Member, PaymentCode, PickupOrder, Product, StaffCode, Unknown
from agent.session.rules import action_rules, audit_rules, pickup_rules, scan_rules
from agent.session.rules.basket import Prompt, Session
from agent.session.rules.label_dates import LabelDates
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
    sale_stop: SaleStop | None = None     # a stop on the scanned lot (or on every lot of the GTIN)


@dataclass(frozen=True, slots=True)
class ScanContext:
    """What every kind's rule may use besides the visit, the meaning and its facts: one value, one signature."""

    settings: SessionSection
    now: float
    new_id: NewId
    clock_synced: bool
    today: date | None = None             # the store's date on the lane's clock, as the code was interpreted


def product_change(session: Session, meaning: Product, facts: Facts, ctx: ScanContext) -> Change:
    """A product into the basket; while a random audit is open, a unit staff rescanned (audit_rules)."""
    if audit_rules.open_run(session) is not None:
        unit = (scan_rules.unit_line(meaning, facts.product, LabelDates(ctx.today, facts.policy, facts.sale_stop))
                if facts.product is not None else Prompt("audit_unknown_item", "This item is not in our list: "
                                                         "it cannot be counted in the check.", "warning"))
        return audit_rules.rescanned(session, unit, meaning.gtin14, ctx.now)
    return scan_rules.on_product(session, meaning, facts.product, facts.promotions, settings=ctx.settings,
                                 now=ctx.now, new_id=ctx.new_id, clock_synced=ctx.clock_synced, keyed=facts.keyed,
                                 dates=LabelDates(ctx.today, facts.policy, facts.sale_stop))


def member_change(session: Session, meaning: Member, facts: Facts, ctx: ScanContext) -> Change:
    return scan_rules.on_member(session, meaning, facts.member, settings=ctx.settings, now=ctx.now,
                                new_id=ctx.new_id, clock_synced=ctx.clock_synced, points_spent=facts.points_spent)


def coupon_change(session: Session, meaning: Coupon, facts: Facts, ctx: ScanContext) -> Change:
    return scan_rules.on_coupon(session, meaning, facts.coupon, uses=facts.coupon_uses, policy=facts.policy,
                                stale=facts.stale, settings=ctx.settings, now=ctx.now)


def staff_change(session: Session, meaning: StaffCode, facts: Facts, ctx: ScanContext) -> Change:
    return action_rules.staff_scan(session, meaning, settings=ctx.settings, now=ctx.now)


def payment_change(session: Session, meaning: PaymentCode, facts: Facts, ctx: ScanContext) -> Change:
    """Only the scan is recorded with the visit's id; the checkout pays once it is committed."""
    return Change(session, scan_fields={"session_id": session.session_id or None})


def pickup_change(session: Session, meaning: PickupOrder, facts: Facts, ctx: ScanContext) -> Change:
    return pickup_rules.on_order(session, meaning, facts.pickup, now=ctx.now)


def unknown_change(session: Session, meaning: Unknown, facts: Facts, ctx: ScanContext) -> Change:
    """A code none of ours, unless it is the lane's own suspend code: then the kept basket comes back."""
    if action_rules.is_suspend_code(meaning.text):
        return action_rules.resume(session, meaning.text.strip(), facts.suspended, ctx.settings, ctx.now,
                                   ctx.new_id)
    return refuse(session, "unknown_code", "This code is not one we know. Please scan the item's barcode.",
                  "info", outcome="unknown")


def invalid_change(session: Session, meaning: Invalid, facts: Facts, ctx: ScanContext) -> Change:
    return refuse(session, f"invalid_{meaning.reason}", "This code could not be read as valid. Please try again "
                  "or ask a member of staff.", outcome="rejected")
