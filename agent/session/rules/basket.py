"""The shopper's visit as one frozen value, and the pure operations on its basket.

Why one value: the whole visit (lines, member, coupons, interventions, prompts, payment) is written to
lane.db in the same transaction as the events it causes, and read back whole after a restart, so a `kill -9`
leaves the basket, member, discounts and prompts exactly as they were. Every change makes a new value; the
recording layer (`agent/session/controller.py`) decides when it is committed. Prices are copied into a line
at the time of the scan, so a catalog that changes during the visit does not re-price what is in the basket.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from agent.session.rules.audit import Difference
from agent.session.rules.machine import SessionState

NO_SESSION = ""


@dataclass(frozen=True, slots=True)
class BasketLine:
    line_id: str                        # "L1", "L2", ... in scan order within the session
    gtin: str
    name: str
    quantity: int
    unit_price: int                     # regular or time-limited price in force at the scan (minor units)
    member_price: int | None
    tax_rate: str
    department: str | None
    position: int                       # scan order, for display
    fixed_amount: int | None = None     # weighed or price-embedded: the label's amount
    weight_g: int | None = None
    age_restricted: bool = False
    voided: bool = False
    unit: str | None = None             # weighed: `unit_price` is per this ("kg", "100g", "g"), shown on the screen
    names: dict[str, str] = field(default_factory=dict)   # the catalog's names per language; `name` else
    expiry: str | None = None           # the label's expiry (GS1 AI 17, ISO date): the expiry-day markdown's key
    scanned_on: str | None = None       # the store's date at the scan (ISO), kept with `expiry` only


@dataclass(frozen=True, slots=True)
class MemberInfo:
    member_id: str
    tier: str
    points_balance: int                 # what the member may spend here: the cloud's balance less the lane's ledger
    consent_interest: bool
    via: str                            # "app" (a signed token) | "card" (a legacy card)
    points_cloud: int | None = None     # the cloud's balance as the member cache had it (None: not in the cache)
    points_version: int | None = None   # the member record's version that balance is as of
    # The cloud's record of the member, for the random audit's risk (agent/session/rules/audit_policy.py).
    tenure_days: int | None = None      # days a member at the store's date of the scan (None: not known)
    audits: int = 0                     # past audits of the member
    audit_findings: int = 0             # of those, the ones that found a difference


@dataclass(frozen=True, slots=True)
class CouponEntry:
    coupon_id: str
    jti: str | None                     # the app token's ID (single use on this lane), None for a paper coupon
    amount: int | None
    percent: str | None
    min_spend: int | None
    gtins: tuple[str, ...]
    departments: tuple[str, ...]
    member_only: bool
    max_value: int | None = None        # the offline policy's cap, when the catalog was stale at the scan
    max_uses: int | None = None         # the catalog's limit of uses on this lane, checked again at resume and pay
    applied: bool = True                # False once the basket no longer meets its condition (kept for the prompt)


@dataclass(frozen=True, slots=True)
class Promo:
    """A catalog promotion as the basket met it (the gtins are those of the basket it covers)."""

    promo_id: str
    type: str
    quantity: int
    bundle_price: int | None
    percent: str | None
    amount: int | None
    member_only: bool
    gtins: tuple[str, ...]
    stacks: bool = False
    days_before: int = 0                # expiry_markdown: from this many days before the label's expiry


@dataclass(frozen=True, slots=True)
class Intervention:
    intervention_id: str                # "I1", "I2", ...
    reason: str                         # age_restricted | expired_item | unknown_item | payment_failures | random_audit
                                        # | the bagging scale's (agent/bagging/rules.py REASONS)
    line_id: str | None
    status: str = "pending"             # pending | approved | rejected
    staff_id: str | None = None
    detail: str = ""
    # What the attendant station shows and the events measure (docs/session.md): when it was raised, what staff
    # need to decide (the unknown code, the audited lines), who said they were coming, and who resolved it.
    raised_at: float | None = None
    code: str | None = None
    audit_lines: tuple[str, ...] = ()
    acknowledged_by: str | None = None
    acknowledged_name: str | None = None
    acknowledged_at: float | None = None
    resolved_at: float | None = None
    via: str | None = None              # lane | station: where it was resolved
    weights: dict[str, int] = field(default_factory=dict)   # a bagging call's weights (mg): expected, measured ...


@dataclass(frozen=True, slots=True)
class AuditRun:
    """The visit's random audit (docs/session.md, "Random audit"): kept with the visit, so a restart resumes it
    with the same lines and the units already rescanned."""

    intervention_id: str                # its `random_audit` intervention
    lines: tuple[str, ...]              # the audited lines (the k picked, or every line once widened)
    probability_bp: int                 # the chance it was drawn at, basis points
    full_on_mismatch: bool = True       # the policy's audit_full_on_mismatch when it was drawn
    full: bool = False                  # every line is being rescanned
    found: tuple[BasketLine, ...] = ()  # the units rescanned, priced at their scan as a basket line would be
    result: str = "open"                # open | match | mismatch
    differences: tuple[Difference, ...] = ()
    added: tuple[str, ...] = ()         # the lines staff added for what was missing


@dataclass(frozen=True, slots=True)
class Prompt:
    """Something the screen must say: a stable `code` the screen translates, and plain English as a fallback."""

    code: str
    message: str
    level: str = "info"                 # info | warning | error
    args: dict[str, str] = field(default_factory=dict)   # the values the screen puts in its own words


@dataclass(frozen=True, slots=True)
class PaymentState:
    payment_id: str                     # the idempotency key sent to the service
    method: str
    amount: int
    status: str                         # the intent's state (agent/payment/intents.py)
    reference: str | None = None
    reason: str | None = None
    qr_payload: str | None = None       # merchant-presented: what the screen shows as a QR
    expires_at: float | None = None     # merchant-presented: when the QR stops being payable (epoch seconds)


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str
    state: SessionState
    started_at: float                   # wall clock, epoch seconds
    last_activity: float                # wall clock: the inactivity timer survives a restart
    lines: tuple[BasketLine, ...] = ()
    member: MemberInfo | None = None
    coupons: tuple[CouponEntry, ...] = ()
    promotions: tuple[Promo, ...] = ()
    points_to_redeem: int = 0
    interventions: tuple[Intervention, ...] = ()
    prompts: tuple[Prompt, ...] = ()
    payment: PaymentState | None = None
    failed_payments: int = 0
    state_before_attendant: SessionState | None = None
    state_before_lock: SessionState | None = None
    next_line: int = 1
    next_intervention: int = 1
    audited: bool = False
    audit: AuditRun | None = None
    clock_synced: bool = True
    sale_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def active_lines(self) -> tuple[BasketLine, ...]:
        return tuple(line for line in self.lines if not line.voided)

    @property
    def pending(self) -> tuple[Intervention, ...]:
        return tuple(i for i in self.interventions if i.status == "pending")

    def line(self, line_id: str) -> BasketLine | None:
        return next((line for line in self.lines if line.line_id == line_id), None)


def idle_session(now: float) -> Session:
    """The lane between shoppers: no session ID, nothing in the basket."""
    return Session(session_id=NO_SESSION, state=SessionState.IDLE, started_at=now, last_activity=now)


def new_session(session_id: str, now: float, clock_synced: bool) -> Session:
    return Session(session_id=session_id, state=SessionState.SCANNING, started_at=now, last_activity=now,
                   clock_synced=clock_synced)


def add_item(session: Session, item: BasketLine, *, merge: bool = True) -> tuple[Session, BasketLine]:
    """The same item again adds quantity to its line; weighed and price-embedded items are lines of their own,
    and so are units with another label expiry (the expiry-day markdown is per unit of that expiry).

    A line under a pending intervention never takes more units: staff rejecting it remove only what they
    checked. `item.line_id` and `position` are assigned here. Returns the new session and the line as it now
    stands.
    """
    if merge and item.fixed_amount is None:
        checking = {i.line_id for i in session.pending}
        for existing in session.lines:
            if (not existing.voided and existing.gtin == item.gtin and existing.fixed_amount is None
                    and existing.unit_price == item.unit_price and existing.line_id not in checking
                    and (existing.expiry, existing.scanned_on) == (item.expiry, item.scanned_on)):
                grown = replace(existing, quantity=existing.quantity + item.quantity)
                return _with_line(session, grown), grown
    line = replace(item, line_id=f"L{session.next_line}", position=session.next_line)
    return replace(session, lines=(*session.lines, line), next_line=session.next_line + 1), line


def void_line(session: Session, line_id: str) -> Session:
    line = session.line(line_id)
    if line is None or line.voided:
        return session
    return _with_line(session, replace(line, voided=True))


def set_quantity(session: Session, line_id: str, quantity: int) -> Session:
    line = session.line(line_id)
    return session if line is None else _with_line(session, replace(line, quantity=quantity))


def _with_line(session: Session, line: BasketLine) -> Session:
    return replace(session, lines=tuple(line if old.line_id == line.line_id else old for old in session.lines))


def add_promotions(session: Session, promos: list[Promo]) -> Session:
    """Remember promotions met by a scan, merging the basket's GTINs into one that is already known."""
    known = {p.promo_id: p for p in session.promotions}
    for promo in promos:
        old = known.get(promo.promo_id)
        known[promo.promo_id] = promo if old is None else replace(
            old, gtins=tuple(sorted(set(old.gtins) | set(promo.gtins))))
    return replace(session, promotions=tuple(known[k] for k in sorted(known)))


def add_intervention(session: Session, reason: str, line_id: str | None, detail: str = "", *,
                     code: str | None = None, audit_lines: tuple[str, ...] = (),
                     raised_at: float | None = None, weights: Mapping[str, int] | None = None) -> Session:
    """A new pending intervention, raised now (by default the visit's last activity: the step that raised it)."""
    entry = Intervention(f"I{session.next_intervention}", reason, line_id, detail=detail,
                         raised_at=session.last_activity if raised_at is None else raised_at, code=code,
                         audit_lines=audit_lines, weights=dict(weights or {}))
    return replace(session, interventions=(*session.interventions, entry),
                   next_intervention=session.next_intervention + 1)


def intervention(session: Session, intervention_id: str) -> Intervention | None:
    return next((i for i in session.interventions if i.intervention_id == intervention_id), None)


def with_intervention(session: Session, changed: Intervention) -> Session:
    interventions = tuple(changed if i.intervention_id == changed.intervention_id else i
                          for i in session.interventions)
    return replace(session, interventions=interventions)


def resolve_oldest(session: Session, approved: bool, staff_id: str, *, intervention_id: str | None = None,
                   now: float | None = None, via: str = "lane") -> tuple[Session, Intervention | None]:
    """The named pending intervention (else the oldest), approved or rejected by `staff_id`."""
    pending = [i for i in session.pending if intervention_id in (None, i.intervention_id)]
    if not pending:
        return session, None
    done = replace(pending[0], status="approved" if approved else "rejected", staff_id=staff_id,
                   resolved_at=now, via=via)
    return with_intervention(session, done), done


def with_prompt(session: Session, prompt: Prompt | None) -> Session:
    """Replace the prompts with this one (the screen shows the latest thing the lane has to say)."""
    return replace(session, prompts=() if prompt is None else (prompt,))


def within_limits(session: Session, uses: Mapping[str, int],
                  points_left: int | None) -> tuple[Session, tuple[str, ...]]:
    """The basket without the coupons whose uses are spent and with its points cut to what the member has left,
    and the reasons (`coupon_used_up`, `points_balance`) of what changed.

    Why again after the scan: a basket put aside keeps its coupons and points while other visits spend them,
    and a payment must never spend a use or a point twice. `uses` counts the lane's redemptions per coupon ID;
    `points_left` is None when the balance is not known (nothing is cut)."""
    coupons = tuple(c for c in session.coupons if c.max_uses is None or uses.get(c.coupon_id, 0) < c.max_uses)
    reasons = ("coupon_used_up",) if len(coupons) != len(session.coupons) else ()
    member, points = session.member, session.points_to_redeem
    if member is not None and points_left is not None:
        member = replace(member, points_balance=points_left)
        if points > points_left:
            points, reasons = points_left, (*reasons, "points_balance")
    return replace(session, coupons=coupons, member=member, points_to_redeem=points), reasons
