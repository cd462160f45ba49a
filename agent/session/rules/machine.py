"""The session's state machine (pure): every (state, event) pair is a documented transition or a refusal.

Per state, what each event does (→ a transition; a bare word is the refusal's reason code):
- idle, paid, cancelled, abandoned: an item, a member code, a coupon or a resumed basket → scanning, as a new
  visit; attendant needed (the shopper calls staff from the screen) → needs_attendant, as a new visit; pay →
  basket_empty (already_paid after paid); payment results → no_payment_in_progress; approve or reject →
  nothing_to_approve; void, cancel, inactivity, suspend → no_session;
  lock → locked; unlock → not_locked.
- scanning: items, member, coupons, voids → scanning; attendant needed → needs_attendant; pay → paying
  (basket_empty when empty); cancel → cancelled; inactivity → abandoned; suspend → idle (basket_empty when
  empty); resume → already_in_session; payment results → no_payment_in_progress; approve or reject →
  nothing_to_approve; lock → locked; unlock → not_locked.
- needs_attendant: attendant needed → needs_attendant; approve or reject → the state before the attendant
  when it resolves the last open intervention, else needs_attendant (nothing_to_approve with none open);
  cancel → cancelled, unless the attendant was called during a payment (payment_in_progress); inactivity →
  waiting_for_attendant; payment results → as in paying when called during a payment, else
  no_payment_in_progress; lock → locked; unlock → not_locked; every other shopper step → needs_attendant.
- paying: success → paid; failure → scanning, or needs_attendant once failures reach the maximum; cancelled →
  scanning; attendant needed → needs_attendant; approve or reject → nothing_to_approve; everything else,
  lock included → payment_in_progress.
- locked: unlock → the state before the lock (idle if none); everything else → lane_locked.

Rules a lane must never break, and why the table is shaped so:
- Nothing that changes the amount, and no cancel, is accepted while a payment is in progress: a charge must
  never be left without its sale. Inactivity never abandons a `paying` visit (the money may have moved) nor
  one waiting for staff.
- After `max_failed_payments` failures a failed payment calls an attendant instead of returning to the basket.
- Payment results also arrive in `needs_attendant` when the attendant was called during the payment.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SessionState(StrEnum):
    IDLE = "idle"
    SCANNING = "scanning"
    NEEDS_ATTENDANT = "needs_attendant"
    PAYING = "paying"
    PAID = "paid"
    CANCELLED = "cancelled"
    ABANDONED = "abandoned"
    LOCKED = "locked"


ENDED = frozenset({SessionState.PAID, SessionState.CANCELLED, SessionState.ABANDONED})


@dataclass(frozen=True, slots=True)
class ItemScanned:
    pass


@dataclass(frozen=True, slots=True)
class MemberIdentified:
    pass


@dataclass(frozen=True, slots=True)
class CouponPresented:
    pass


@dataclass(frozen=True, slots=True)
class LineVoided:
    pass


@dataclass(frozen=True, slots=True)
class AttendantNeeded:
    reason: str = "manual"


@dataclass(frozen=True, slots=True)
class AttendantApproved:
    staff_id: str = ""


@dataclass(frozen=True, slots=True)
class AttendantRejected:
    staff_id: str = ""


@dataclass(frozen=True, slots=True)
class PayRequested:
    pass


@dataclass(frozen=True, slots=True)
class PaymentSucceeded:
    pass


@dataclass(frozen=True, slots=True)
class PaymentFailed:
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PaymentCancelled:
    pass


@dataclass(frozen=True, slots=True)
class CancelRequested:
    pass


@dataclass(frozen=True, slots=True)
class InactivityTimeout:
    pass


@dataclass(frozen=True, slots=True)
class Suspended:
    pass


@dataclass(frozen=True, slots=True)
class Resumed:
    pass


@dataclass(frozen=True, slots=True)
class LaneLocked:
    staff_id: str = ""


@dataclass(frozen=True, slots=True)
class LaneUnlocked:
    staff_id: str = ""


SessionEvent = (ItemScanned | MemberIdentified | CouponPresented | LineVoided | AttendantNeeded | AttendantApproved
                | AttendantRejected | PayRequested | PaymentSucceeded | PaymentFailed | PaymentCancelled
                | CancelRequested | InactivityTimeout | Suspended | Resumed | LaneLocked | LaneUnlocked)
EVENT_KINDS: tuple[type, ...] = (ItemScanned, MemberIdentified, CouponPresented, LineVoided, AttendantNeeded,
                                 AttendantApproved, AttendantRejected, PayRequested, PaymentSucceeded, PaymentFailed,
                                 PaymentCancelled, CancelRequested, InactivityTimeout, Suspended, Resumed, LaneLocked,
                                 LaneUnlocked)
SHOPPER_STEPS = (ItemScanned, MemberIdentified, CouponPresented)
PAYMENT_RESULTS = (PaymentSucceeded, PaymentFailed, PaymentCancelled)


@dataclass(frozen=True, slots=True)
class MachineContext:
    """What the rules need that the state alone does not say."""

    basket_empty: bool = True
    pending_interventions: int = 0
    state_before_lock: SessionState | None = None
    state_before_attendant: SessionState | None = None
    failed_payments: int = 0                 # including the failure being applied, for PaymentFailed
    max_failed_payments: int = 3


@dataclass(frozen=True, slots=True)
class Transition:
    to: SessionState
    new_session: bool = False


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str                              # a stable code the screen translates
    message: str                             # plain English: what happened and what to do


MESSAGES = {
    "lane_locked": "This lane is closed. Please use another register.",
    "needs_attendant": "Please wait: a member of staff is coming to help.",
    "payment_in_progress": "A payment is in progress. Please finish or cancel it first.",
    "basket_empty": "Please scan an item first.",
    "no_session": "There is no basket at this lane yet. Scan an item to start.",
    "no_payment_in_progress": "No payment is in progress.",
    "nothing_to_approve": "Nothing is waiting for staff at this lane.",
    "already_paid": "This basket is already paid. Scan an item to start a new one.",
    "waiting_for_attendant": "The basket is kept while staff are on their way.",
    "already_in_session": "Please pay for or cancel this basket before resuming another.",
    "not_locked": "The lane is not locked.",
    "nothing_to_resume": "There is no suspended basket to resume here.",
}
REASONS = frozenset(MESSAGES)


def refuse(reason: str) -> Refusal:
    return Refusal(reason, MESSAGES[reason])


def transition(state: SessionState, event: SessionEvent, *, context: MachineContext) -> Transition | Refusal:
    """The documented outcome of `event` in `state` (see the module's table)."""
    if state is SessionState.LOCKED:
        return _locked(event, context)
    if isinstance(event, LaneLocked):
        # Never while a payment may still answer: a locked lane refuses payment results (a charge without a sale).
        paying = state is SessionState.PAYING or (state is SessionState.NEEDS_ATTENDANT
                                                  and context.state_before_attendant is SessionState.PAYING)
        return refuse("payment_in_progress") if paying else Transition(SessionState.LOCKED)
    if isinstance(event, LaneUnlocked):
        return refuse("not_locked")
    if state is SessionState.PAYING:
        return _paying(event, context)
    if state is SessionState.NEEDS_ATTENDANT:
        return _needs_attendant(event, context)
    if state is SessionState.SCANNING:
        return _scanning(event, context)
    return _between_visits(state, event)


def _locked(event: SessionEvent, context: MachineContext) -> Transition | Refusal:
    if isinstance(event, LaneUnlocked):
        return Transition(context.state_before_lock or SessionState.IDLE)
    return refuse("lane_locked")


def _between_visits(state: SessionState, event: SessionEvent) -> Transition | Refusal:
    """idle, paid, cancelled, abandoned: a shopper's step opens a new visit; little else makes sense."""
    if isinstance(event, (*SHOPPER_STEPS, Resumed)):
        return Transition(SessionState.SCANNING, new_session=True)
    if isinstance(event, AttendantNeeded):
        return Transition(SessionState.NEEDS_ATTENDANT, new_session=True)
    if isinstance(event, PayRequested):
        return refuse("already_paid" if state is SessionState.PAID else "basket_empty")
    if isinstance(event, PAYMENT_RESULTS):
        return refuse("no_payment_in_progress")
    if isinstance(event, (AttendantApproved, AttendantRejected)):
        return refuse("nothing_to_approve")
    if isinstance(event, Suspended):
        return refuse("no_session")
    return refuse("no_session")


def _scanning(event: SessionEvent, context: MachineContext) -> Transition | Refusal:
    if isinstance(event, (*SHOPPER_STEPS, LineVoided)):
        return Transition(SessionState.SCANNING)
    if isinstance(event, AttendantNeeded):
        return Transition(SessionState.NEEDS_ATTENDANT)
    if isinstance(event, PayRequested):
        return refuse("basket_empty") if context.basket_empty else Transition(SessionState.PAYING)
    if isinstance(event, CancelRequested):
        return Transition(SessionState.CANCELLED)
    if isinstance(event, InactivityTimeout):
        return Transition(SessionState.ABANDONED)
    if isinstance(event, Suspended):
        return refuse("basket_empty") if context.basket_empty else Transition(SessionState.IDLE)
    if isinstance(event, Resumed):
        return refuse("already_in_session")
    if isinstance(event, PAYMENT_RESULTS):
        return refuse("no_payment_in_progress")
    return refuse("nothing_to_approve")          # AttendantApproved / AttendantRejected


def _needs_attendant(event: SessionEvent, context: MachineContext) -> Transition | Refusal:
    back = context.state_before_attendant or SessionState.SCANNING
    if isinstance(event, AttendantNeeded):
        return Transition(SessionState.NEEDS_ATTENDANT)
    if isinstance(event, (AttendantApproved, AttendantRejected)):
        if context.pending_interventions <= 0:
            return refuse("nothing_to_approve")
        return Transition(back if context.pending_interventions == 1 else SessionState.NEEDS_ATTENDANT)
    if isinstance(event, CancelRequested):
        return refuse("payment_in_progress") if back is SessionState.PAYING else Transition(SessionState.CANCELLED)
    if isinstance(event, InactivityTimeout):
        return refuse("waiting_for_attendant")
    if isinstance(event, PAYMENT_RESULTS) and back is SessionState.PAYING:
        return _paying(event, context)
    if isinstance(event, PAYMENT_RESULTS):
        return refuse("no_payment_in_progress")
    return refuse("needs_attendant")


def _paying(event: SessionEvent, context: MachineContext) -> Transition | Refusal:
    if isinstance(event, PaymentSucceeded):
        return Transition(SessionState.PAID)
    if isinstance(event, PaymentFailed):
        failures = context.failed_payments
        return Transition(SessionState.NEEDS_ATTENDANT if failures >= context.max_failed_payments
                          else SessionState.SCANNING)
    if isinstance(event, PaymentCancelled):
        return Transition(SessionState.SCANNING)
    if isinstance(event, AttendantNeeded):
        return Transition(SessionState.NEEDS_ATTENDANT)
    if isinstance(event, (AttendantApproved, AttendantRejected)):
        return refuse("nothing_to_approve")
    return refuse("payment_in_progress")
