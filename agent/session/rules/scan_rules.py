"""What a scan does to the visit (pure): products into the basket, the member, coupons, staff approvals.

Each function takes the session, the scan's meaning and the catalog facts looked up before (no I/O here) and
returns a `Change`. Rules, in the words the screen uses:
- a product in the catalog goes into the basket at the price in force now; the same item again adds one to
  its line; weighed and price-embedded items are lines of their own (the label's amount; a per-kg price times
  the label's exact weight, the amount rounded down once so the shopper is never charged for a fraction);
- a sale-stopped item, or a lot the catalog stops (a recall), is refused with the reason; an item the catalog
  does not know calls an attendant (who takes it away or enters it by hand); an age-restricted item is added and
  calls an attendant, once per visit; a past expiry date is refused, or with an untrusted clock handled as the
  policy says (agent/session/rules/label_dates.py), and an attendant called for it may reject the unit (the line
  is voided); a unit that calls an attendant is a line of its own, so a reject voids that unit only;
- a member code identifies the shopper at any point; member prices then apply to every line (the pricing
  engine does that from the lines' member prices);
- a coupon needs the identified member to be the token's holder, its validity window, its maximum uses on this
  lane, and while the catalog is stale the offline policy's permission and value cap. It is claimed (single use)
  in the same transaction that adds it; a visit that ends without a sale releases it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from agent.catalog.records import Coupon as CouponRecord
from agent.catalog.records import Member as MemberRecord
from agent.catalog.records import OfflinePolicy
from agent.catalog.records import Product as ProductRecord
from agent.catalog.records import Promotion as PromotionRecord
from agent.interpret.meanings import Coupon, Member, Product
from agent.session.pricing.money import weighed_amount
from agent.session.rules import label_dates, machine
from agent.session.rules.audit_policy import tenure_days
from agent.session.rules.basket import (
    BasketLine,
    CouponEntry,
    MemberInfo,
    Promo,
    Prompt,
    Session,
    add_intervention,
    add_item,
    add_promotions,
    new_session,
    with_prompt,
)
from agent.session.rules.label_dates import NO_DATES, LabelDates
from agent.session.rules.machine import Refusal, SessionState
from agent.session.rules.state_step import advance
from agent.session.rules.visit_change import Change, EventRow, refuse, session_event, touched
from agent.session.settings import SessionSection

NewId = Callable[[], str]
GRAMS_PER_UNIT = {"kg": 1000, "100g": 100, "g": 1}
ATTENDANT_MESSAGES = {
    "age_restricted": "This item needs an age check. A member of staff is coming.",
    "expired_item": "This item is past its date. A member of staff is coming.",
    "unknown_item": "This item is not in our list. A member of staff is coming to help.",
    "keyed_code": "A member of staff will check the item you typed in.",
}


def begin(session: Session, event: machine.SessionEvent, settings: SessionSection, now: float, new_id: NewId,
          clock_synced: bool) -> tuple[Session, list[EventRow]] | Refusal:
    """Take a shopper's step through the machine, opening a new visit when the machine says so."""
    result = advance(session, event, settings.max_failed_payments)
    if isinstance(result, Refusal):
        return result
    moved, transition = result
    if transition.new_session:
        fresh = replace(new_session(new_id(), now, clock_synced), state=transition.to)
        return fresh, [session_event(fresh, "started")]
    return touched(moved, now), []


def on_product(session: Session, meaning: Product, record: ProductRecord | None, promos: list[PromotionRecord],
               *, settings: SessionSection, now: float, new_id: NewId, clock_synced: bool,
               keyed: bool = False, dates: LabelDates = NO_DATES) -> Change:
    typed_check = keyed and settings.keyed_codes == "approval"   # a typed code could be a cheaper item's
    if keyed and settings.keyed_codes == "refused":
        return refuse(session, "keyed_code_refused", "Item codes cannot be typed in at this register. Please scan "
                      "the item's barcode, or ask a member of staff.", outcome="rejected", reason="keyed_code_refused")
    if dates.stop is not None:
        return label_dates.recall_refusal(session, dates.stop)
    if record is not None and record.sale_stop:
        return refuse(session, "sale_stop", f"{record.name} cannot be sold at the moment. Please put it aside.",
                      outcome="rejected", reason="sale_stop")
    dated = label_dates.verdict(meaning, dates, clock_synced)
    if dated is not None and dated.action == "refuse":
        return label_dates.date_refusal(session, dated.reason)
    date_call = dated.reason if dated is not None and dated.action == "attendant" else None
    check = typed_check or date_call is not None      # this unit calls an attendant: a line of its own
    if (record is not None and len(session.active_lines) >= settings.max_lines
            and not _merges(session, record, meaning, check)):
        return refuse(session, "basket_full", f"This basket has {settings.max_lines} lines, the most one "
                      "visit can take. Please pay for these first, or ask a member of staff.", outcome="rejected",
                      reason="basket_full")
    started = begin(session, machine.ItemScanned(), settings, now, new_id, clock_synced)
    if isinstance(started, Refusal):
        return refuse(session, started.reason, started.message, outcome="rejected", reason=started.reason)
    before = session
    session, events = started
    if record is None:
        return _attendant(session, events, "unknown_item", None, settings, code=meaning.gtin14,
                          outcome="attendant", reason="not_in_catalog")
    line = unit_line(meaning, record, dates)
    if isinstance(line, Prompt):              # refused from the session as it was: no visit starts for it
        return Change(with_prompt(before, line), scan_fields={"outcome": "rejected", "reason": line.code},
                      refused=line.code)
    if _quantity(session, record.gtin) + line.quantity > settings.max_quantity:
        # Judged before the unit is added, and refused from the session as it was: a refusal changes nothing.
        return refuse(before, "quantity_limit", f"At most {settings.max_quantity} of one item per visit. "
                      "Please ask a member of staff.", outcome="rejected", reason="quantity_limit")
    # A unit that calls an attendant is a line of its own, so a reject voids that unit and nothing else.
    session, added = add_item(session, line, merge=not _needs_check(session, record, check))
    session = add_promotions(session, [_promo(p, record.gtin) for p in promos])
    session = with_prompt(session, None)
    scan_fields = {"session_id": session.session_id, "outcome": "accepted"}
    if dated is not None:        # accepted by the policy on an untrusted clock: said in the event
        scan_fields["reason"] = f"{dated.reason}_clock_untrusted"
    if date_call is not None:
        return _attendant(session, events, "expired_item", added.line_id, settings, outcome="attendant",
                          reason=date_call)
    if record.age_restricted and not _age_checked(session):
        return _attendant(session, events, "age_restricted", added.line_id, settings, outcome="attendant",
                          reason="age_restricted")
    if typed_check:
        return _attendant(session, events, "keyed_code", added.line_id, settings, outcome="attendant",
                          reason="keyed_code")
    return Change(session, tuple(events), scan_fields)


def _quantity(session: Session, gtin: str) -> int:
    """How many units of one product the basket holds, over all its lines (the limit is per item per visit)."""
    return sum(line.quantity for line in session.active_lines if line.gtin == gtin)


def _merges(session: Session, record: ProductRecord, meaning: Product, check: bool = False) -> bool:
    """Whether the scan only adds quantity to a line already in the basket."""
    return (record.unit is None and meaning.price_minor is None
            and not _needs_check(session, record, check)
            and any(line.gtin == record.gtin and line.fixed_amount is None for line in session.active_lines))


def _needs_check(session: Session, record: ProductRecord, check: bool = False) -> bool:
    """Whether this unit calls an attendant (`check`: a date staff must judge, or a typed code staff must look
    at; or an age check not done yet in this visit)."""
    return check or (record.age_restricted and not _age_checked(session))


def unit_line(meaning: Product, record: ProductRecord, dates: LabelDates = NO_DATES) -> BasketLine | Prompt:
    """The basket line a scanned product makes, at the price in force now (a Prompt when it cannot be priced)."""
    fixed: int | None = None
    per: str | None = None                                   # the unit `fixed` was priced by, for the screen
    if meaning.price_minor is not None:
        fixed = meaning.price_minor                          # the label's amount (RCN, GS1 AI 392x) wins
    elif record.unit is not None:
        grams = GRAMS_PER_UNIT.get(record.unit)
        if meaning.weight_g is None or grams is None:
            return Prompt("needs_weight", f"{record.name} is sold by {record.unit}. Please weigh it and scan the "
                          "scale's label.", "warning")
        fixed = weighed_amount(record.price, grams, meaning.weight_g)
        per = record.unit
    expiry, scanned_on = label_dates.label_days(meaning, dates.today)
    return BasketLine(line_id="", gtin=record.gtin, name=record.name, quantity=1, unit_price=record.price,
                      member_price=record.member_price if fixed is None else None, tax_rate=record.tax_rate,
                      department=record.department, position=0, fixed_amount=fixed, weight_g=meaning.grams(),
                      age_restricted=record.age_restricted, unit=per, names=dict(record.names),
                      expiry=expiry, scanned_on=scanned_on)


def _promo(record: PromotionRecord, gtin: str) -> Promo:
    return Promo(record.promo_id, record.type, record.quantity, record.bundle_price, record.percent, record.amount,
                 record.member_only, (gtin,), days_before=record.days_before)


def _age_checked(session: Session) -> bool:
    return any(i.reason == "age_restricted" and i.status == "approved" for i in session.interventions)


def _attendant(session: Session, events: list[EventRow], why: str, line_id: str | None,
               settings: SessionSection, code: str | None = None, **scan_fields: str) -> Change:
    """Call an attendant for `reason`: the lane waits in needs_attendant until staff approve or reject."""
    moved = advance(session, machine.AttendantNeeded(why), settings.max_failed_payments)
    if isinstance(moved, Refusal):
        return refuse(session, moved.reason, moved.message, **scan_fields)
    session = add_intervention(moved[0], why, line_id, code=code)
    intervention = session.interventions[-1]
    session = with_prompt(session, Prompt(f"attendant_{why}", ATTENDANT_MESSAGES.get(
        why, "A member of staff is coming to help."), "warning"))
    events = [*events, session_event(session, "attendant_requested", reason=why,
                                     intervention_id=intervention.intervention_id, line_id=line_id)]
    return Change(session, tuple(events), {"session_id": session.session_id, **scan_fields})


def on_member(session: Session, meaning: Member, record: MemberRecord | None, *, settings: SessionSection,
              now: float, new_id: NewId, clock_synced: bool, points_spent: int = 0) -> Change:
    """Identify the member; `points_spent` is what this lane's ledger says they redeemed since the cloud's
    balance in `record` (it comes off the balance shown and the most they may redeem; never below zero)."""
    if record is None and meaning.member_id is None:
        return refuse(session, "member_not_found", "This member card is not known here. Please use the app's "
                      "member code, or ask a member of staff.", outcome="unknown", reason="member_not_found")
    if record is not None and record.status != "active":
        return refuse(session, f"member_{record.status}", "This membership cannot be used here. Please ask a "
                      "member of staff.", outcome="rejected", reason=f"member_{record.status}")
    if session.member is not None and session.state in (SessionState.SCANNING, SessionState.NEEDS_ATTENDANT):
        member_id = record.member_id if record else meaning.member_id
        if member_id != session.member.member_id:
            return refuse(session, "member_already_identified", "Another member is already identified for this "
                          "basket.", outcome="rejected", reason="member_already_identified")
    started = begin(session, machine.MemberIdentified(), settings, now, new_id, clock_synced)
    if isinstance(started, Refusal):
        return refuse(session, started.reason, started.message, outcome="rejected", reason=started.reason)
    session, events = started
    info = (MemberInfo(record.member_id, record.tier, max(0, record.points - points_spent), record.consent_interest,
                       "app" if meaning.claims else "card", record.points, record.version,
                       tenure_days(record.since, now), record.audits, record.audit_findings) if record is not None
            else MemberInfo(str(meaning.member_id), "", 0, False, "app"))
    first = session.member is None
    session = replace(session, member=info)
    session = with_prompt(session, Prompt("member_welcome", f"Welcome. You have {info.points_balance} points."))
    if first:
        events.append(session_event(session, "member_identified", via=info.via, tier=info.tier or None))
    return Change(session, tuple(events), {"session_id": session.session_id, "member_id": info.member_id},
                  claim=meaning.claims)


def on_coupon(session: Session, meaning: Coupon, record: CouponRecord | None, *, uses: int,
              policy: OfflinePolicy, stale: bool, settings: SessionSection, now: float) -> Change:
    """A coupon joins the visit if every condition holds; the pricing engine decides what it takes off."""
    problem = _coupon_problem(session, meaning, record, uses, policy, stale, now)
    if problem is not None:
        return refuse(session, problem[0], problem[1], outcome="rejected", reason=problem[0])
    assert record is not None
    if any(c.coupon_id == record.coupon_id for c in session.coupons):
        return Change(with_prompt(session, Prompt("coupon_already_added", "This coupon is already in the basket.")),
                      scan_fields={"session_id": session.session_id, "outcome": "accepted"}, claim=meaning.claims)
    moved = advance(session, machine.CouponPresented(), settings.max_failed_payments)
    if isinstance(moved, Refusal):
        return refuse(session, moved.reason, moved.message, outcome="rejected", reason=moved.reason)
    conditions = record.conditions
    entry = CouponEntry(record.coupon_id, meaning.claims.jti if meaning.claims else None, record.amount,
                        record.percent, _int(conditions.get("min_spend")), tuple(conditions.get("gtins") or ()),
                        tuple(conditions.get("departments") or ()), bool(conditions.get("member_only", True)),
                        max_value=policy.max_coupon_value if stale else None, max_uses=record.max_uses)
    session = touched(replace(moved[0], coupons=(*moved[0].coupons, entry)), now)
    session = with_prompt(session, Prompt("coupon_added", "Coupon added."))
    return Change(session, scan_fields={"session_id": session.session_id, "outcome": "accepted"},
                  claim=meaning.claims)


def _coupon_problem(session: Session, meaning: Coupon, record: CouponRecord | None, uses: int,
                    policy: OfflinePolicy, stale: bool, now: float) -> tuple[str, str] | None:
    if session.state not in (SessionState.SCANNING,):
        return "no_basket", "Please scan your items first, then the coupon."
    if record is None:
        return "coupon_unknown", "This coupon is not known here. Please ask a member of staff."
    if record.valid_from is not None and now < record.valid_from:
        return "coupon_not_yet_valid", "This coupon cannot be used yet."
    if record.valid_to is not None and now >= record.valid_to:
        return "coupon_expired", "This coupon has expired."
    holder = meaning.claims.sub if meaning.claims else meaning.member_id
    if holder is not None and (session.member is None or session.member.member_id != holder):
        return "coupon_member_mismatch", ("Please show your app's member code first: this coupon belongs to a "
                                          "member." if session.member is None else
                                          "This coupon belongs to another member.")
    if record.max_uses is not None and uses >= record.max_uses:
        return "coupon_used_up", "This coupon has been used as many times as it allows."
    if stale and record.max_uses == 1 and not policy.single_use_coupons:
        # A single use may already have been spent at another lane, which a stale catalog cannot show; a coupon
        # with several uses counts them on this lane (docs/session.md), so it is still taken.
        return "coupon_offline", "This coupon cannot be used while the store is offline. Your basket is kept."
    return None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
