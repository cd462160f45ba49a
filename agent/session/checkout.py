"""Paying for the basket: payment intents driven through the adapter, never charging twice, never losing a sale.

Every attempt is an intent row (agent/payment/intents.py) committed with the session turning `paying`, before
the service hears of it; each later state is committed when reached, and a final one together with its
`omo.payment/1` event (and, on success, the sale). What the lane does at each answer (docs/payment.md):
- COMPLETED: the sale is recorded. FAILED: a decline, shown with its reason; staff after too many.
- CREATED or AUTHORIZED: the shopper has a QR to pay or is confirming in the app; the status is polled every
  `poll_interval_s` (sooner when the cloud relays the service's notification) until it settles. A QR past
  its expiry, or cancelled by the shopper, is withdrawn and its final status asked before the basket is
  released: a payment made at the last moment is a sale, not a loss.
- The create's connection refused (`PaymentNotSent`): the request never left the lane, so the basket is
  released at once with nothing to ask.
- No usable answer (timeout, reset, 5xx): the status is asked with the same ID, never a second create.
  NOT_FOUND then means the request may still be on its way, so the payment is cancelled by ID, which stops a
  late arrival from charging. Still unknown after `unknown_timeout_s`: cancelled, or refunded once the
  service's cancel window has passed, and recorded as a reversal with its reason.
Recovery at start reconciles every intent not final, so a restarted lane neither loses a charged sale nor
keeps a shopper's money for a sale it never recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import Any

from agent.catalog.records import OfflinePolicy
from agent.clock import SYSTEM_CLOCK, Clock
from agent.errors import DiskFullError
from agent.health import NOBODY, ComponentHealth
from agent.payment import intents
from agent.payment.adapter import (
    PaymentAdapter,
    PaymentNotSent,
    PaymentRef,
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
)
from agent.payment.intents import Intent, IntentState
from agent.payment.reversal import reversal_kind
from agent.payment.settings import PaymentSection
from agent.session.offline import OfflineLookup, fresh, over_sale_cap, sale_cap_message
from agent.session.payment_commits import PaymentCommits
from agent.session.rules import action_rules, codec, tender
from agent.session.rules.basket import Session
from agent.session.rules.machine import SessionState
from agent.session.rules.payment_prompts import CHECKING, CONFIRM, DECLINED, SHOW_QR
from agent.session.rules.visit_change import Change, refuse
from agent.session.visit_port import VisitPort
from agent.store import Database
from agent.sync.disk import DiskGuard
from agent.sync.event_ids import new_event_id

logger = logging.getLogger(__name__)

OfflineKinds = Callable[[], tuple[str, ...] | None]


def _online() -> tuple[str, ...] | None:
    return None


class Checkout:
    """Drives each payment intent of one lane to a final state; reaches the visit only through its port."""

    def __init__(self, visit: VisitPort, *, adapter: PaymentAdapter, lane_db: Database, health: ComponentHealth,
                 settings: PaymentSection, clock: Clock = SYSTEM_CLOCK,
                 currency: str = "JPY", store_id: str = "", lane_id: str = "",
                 audit: Callable[[], float] = random.random, offline_policy: OfflineLookup = fresh,
                 audit_policy: Callable[[], OfflinePolicy] = OfflinePolicy,
                 offline_kinds: OfflineKinds = _online, guard: DiskGuard | None = None,
                 observe_payment: Callable[[Intent], None] = NOBODY.payment) -> None:
        self.visit, self.adapter, self.lane_db, self.health = visit, adapter, lane_db, health
        self.settings, self.clock = settings, clock
        self.currency, self.store_id, self.lane_id, self.audit = currency, store_id, lane_id, audit
        self.offline_policy = offline_policy        # the catalog's offline policy while it is stale, else None
        self.audit_policy = audit_policy            # the catalog's policy, fresh or stale: its random-audit keys
        self.offline_kinds = offline_kinds          # None while online, else the kinds the offline policy allows
        self.guard = guard                          # asked before the money moves: a charged sale is always recorded
        self.recovery: asyncio.Task[None] | None = None
        self.commits = PaymentCommits(visit, lane_db=lane_db, clock=clock, health=health,
                                      observe=lambda intent: self.observe_payment(intent))
        self._wake: dict[str, asyncio.Event] = {}
        self._cancel: set[str] = set()
        self._tasks: dict[str, asyncio.Task[Change]] = {}
        # Each intent that reached a final state, once committed, for the metrics the composition root wires.
        self.observe_payment = observe_payment

    # -- starting a payment ------------------------------------------------------------------------------------

    async def pay(self, method: str, user_code: str | None = None) -> Change:
        """Ask for payment: the intent is committed first, then the adapter is called with its payment ID."""
        merchant = tender.METHODS.get(method)
        async with self.visit.lock:
            refused = self._refusal(method, user_code)
            if refused is not None:
                await self.visit.apply_locked(refused)
                return refused
            if self.visit.session.state is SessionState.SCANNING:
                # Coupon uses and points are checked again now: a resumed basket or another lane's sale may have
                # spent them since they were added.
                checked, reasons = self.visit.within_limits(self.visit.session)
                if reasons:
                    corrected = action_rules.checked_for_payment(checked, reasons)
                    await self.visit.apply_locked(corrected)
                    return corrected
            amount = self.visit.priced(self.visit.session).amount_due
            if amount < self.adapter.capabilities.min_amount:
                return await self._below_minimum(amount)
            payment_id, now = new_event_id(), self.clock.time()
            change = action_rules.request_payment(self.visit.session, method, amount, payment_id,
                                                  self.visit.settings, self.audit(), now, self.audit_policy())
            if not change.ok:
                await self.visit.apply_locked(change)
                return change
            intent = Intent(payment_id, change.session.session_id, method, bool(merchant), amount, self.currency,
                            IntentState.CREATED, codec.dumps(change.session), now, now)
            await self.visit.apply_locked(change, None, lambda conn: intents.create(conn, intent))
            # `requested` is committed before the call: an intent still `created` proves the call never happened.
            await self.lane_db.write(intents.advance, payment_id, IntentState.REQUESTED, now)
        request = PaymentRequest(payment_id, amount, self.currency, self.store_id, self.lane_id, user_code=user_code,
                                 merchant_presented=bool(merchant), expires_in_s=self.settings.qr_expiry_s)
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                result = await self.adapter.pay(request)
        except PaymentNotSent:
            # A refused connect proves the request never reached the service: release now, ask nothing.
            logger.warning("payment %s: the payment service refused the connection; nothing was sent", payment_id)
            return await self.commits.finish(payment_id, IntentState.CANCELLED, "unreachable")
        except Exception as exc:   # noqa: BLE001 - whatever went wrong, the money may have moved: ask, never retry
            # Only the type is logged: an adapter's message could quote what the shopper's wallet sent.
            logger.warning("payment %s: no usable answer (%s); asking its status", payment_id, type(exc).__name__)
            await self.commits.progress(payment_id, IntentState.UNKNOWN, CHECKING)
            return await self.settle(payment_id)
        return await self.on_result(payment_id, result, background=True)

    async def _below_minimum(self, amount: int) -> Change:
        """Less than the adapter's minimum (agent/session/rules/tender.py): a `no_charge` sale or a refusal."""
        change = tender.below_minimum(self.visit.session, amount, new_event_id(), self.visit.sale_for,
                                      self.visit.settings, self.audit(), self.clock.time(), self.audit_policy())
        await self.visit.apply_locked(change)
        if change.sale is not None:
            self.health.count("sales")
        return change

    def _refusal(self, method: str, user_code: str | None) -> Change | None:
        session, caps = self.visit.session, self.adapter.capabilities
        refused = tender.method_refusal(session, method, user_code, caps)
        if refused is not None or session.state is not SessionState.SCANNING:
            return refused                            # else the state machine says why (action_rules.request_payment)
        if self.guard is not None:
            try:
                self.guard.admit_sale()          # before the money moves: a charged sale is always recorded
            except DiskFullError as exc:
                return refuse(session, "disk_full", "This lane cannot take payments right now. Your basket is "
                              f"kept: please use another register. ({exc})")
        refused = tender.capability_refusal(session, method, caps)
        if refused is not None:
            return refused
        # While the uplink is down the cloud's offline policy decides which kinds a store takes (a business
        # rule: the exposure it accepts on stale prices and balances). Whether the wallet's own service is
        # reachable is learnt by asking it, and a payment it cannot answer is settled like any unknown one.
        # A stale catalog puts the lane under the same policy (agent/session/offline.py).
        kinds, policy = self.offline_kinds(), self.offline_policy()
        if (kinds is not None and method not in kinds) or (policy is not None and method not in policy.payment_kinds):
            return refuse(session, "payment_offline", "Paying by wallet is not possible while the store is "
                          "offline. Your basket is kept: you can put it aside and pay at a staffed register.")
        if policy is not None and over_sale_cap(0, self.visit.priced(session).total, policy):
            return refuse(session, "offline_sale_cap", sale_cap_message(policy))
        return None

    # -- answers -----------------------------------------------------------------------------------------------

    async def on_result(self, payment_id: str, result: PaymentResult, *, background: bool = False) -> Change:
        """Act on the service's answer; a payment still open is followed by polling (in a task if `background`)."""
        status = result.status
        if status is PaymentStatus.COMPLETED:
            return await self.commits.succeed(payment_id, result)
        if status is PaymentStatus.FAILED:
            return await self.commits.finish(payment_id, IntentState.FAILED, result.reason or DECLINED)
        if status in (PaymentStatus.CANCELED, PaymentStatus.EXPIRED, PaymentStatus.REFUNDED):
            return await self.commits.finish(payment_id, IntentState.CANCELLED,
                                      "expired" if status is PaymentStatus.EXPIRED else "cancelled_by_shopper")
        if status is PaymentStatus.NOT_FOUND:
            return await self.reverse(payment_id, "not_found")
        fields: dict[str, Any] = {}
        if result.qr_payload is not None:
            fields = {"code_id": result.code_id, "qr_payload": result.qr_payload, "expires_at": result.expires_at}
        prompt = SHOW_QR if status is PaymentStatus.CREATED else CONFIRM
        change = await self.commits.progress(payment_id, IntentState.WAITING, prompt, **fields)
        if background:
            self._follow(payment_id)
            return change
        return await self.wait(payment_id)

    def _follow(self, payment_id: str) -> None:
        if payment_id in self._tasks:
            return
        task = asyncio.create_task(self.wait(payment_id), name=f"payment {payment_id}")
        self._tasks[payment_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(payment_id, None))

    async def wait(self, payment_id: str) -> Change:
        """Poll an intent the shopper is still paying until it settles, expires, or the shopper cancels."""
        clock, wake = self.clock, self._wake.setdefault(payment_id, asyncio.Event())
        try:
            while True:
                intent = self.commits.open_intent(payment_id)
                if intent is None:
                    return Change(self.visit.session)
                now = clock.time()
                if payment_id in self._cancel:
                    return await self._stop_waiting(intent, "cancelled_by_shopper")
                if intent.merchant_presented and intent.expires_at is not None and now >= intent.expires_at:
                    return await self._stop_waiting(intent, "expired")
                limit = intent.created_at + max(self.settings.unknown_timeout_s,
                                                self.settings.qr_expiry_s + self.settings.timeout_s)
                if now >= limit:
                    return await self.reverse(payment_id, "unknown")
                pause = self.settings.poll_interval_s
                if intent.merchant_presented and intent.expires_at is not None:
                    pause = min(pause, max(0.05, intent.expires_at - now))    # act at the expiry, not after
                await self._pause(wake, pause)
                result = await self._ask(self.adapter.status, self._ref(intent))
                if result is not None and result.status not in (PaymentStatus.CREATED, PaymentStatus.AUTHORIZED,
                                                                 PaymentStatus.REAUTHORIZING):
                    return await self.on_result(payment_id, result)
        finally:
            self._wake.pop(payment_id, None)
            self._cancel.discard(payment_id)

    async def _stop_waiting(self, intent: Intent, reason: str) -> Change:
        """Withdraw the QR and ask the final status before the basket is released; a payment made at the last
        moment is a sale (at the expiry and at the shopper's cancel alike: the money moved, and the shopper
        has paid for what they take), and one still being confirmed in the app is voided."""
        await self.commits.progress(intent.payment_id, IntentState.CANCELLING, CHECKING, reversal=reason)
        while True:
            result = await self._ask(self.adapter.withdraw, self._ref(intent))
            if result is not None:
                break
            await self.clock.sleep(self.settings.poll_interval_s)
        if result.status is PaymentStatus.COMPLETED:
            return await self.commits.succeed(intent.payment_id, result)
        if result.status in (PaymentStatus.COMPLETED, PaymentStatus.AUTHORIZED, PaymentStatus.REAUTHORIZING):
            return await self.reverse(intent.payment_id, reason)
        return await self.commits.finish(intent.payment_id, IntentState.CANCELLED, reason)

    async def settle(self, payment_id: str) -> Change:
        """No usable answer: ask the status with the same ID until it is known; never pay again blindly."""
        intent = self.commits.open_intent(payment_id)
        if intent is None:
            return Change(self.visit.session)
        deadline = intent.created_at + self.settings.unknown_timeout_s
        attempt = 0
        while True:
            result = await self._ask(self.adapter.status, self._ref(intent))
            if result is not None:
                return await self.on_result(payment_id, result)
            if self.clock.time() >= deadline:
                return await self.reverse(payment_id, "unknown")
            attempt += 1
            await self.clock.sleep(min(1.0 * attempt, 10.0))

    async def reverse(self, payment_id: str, reason: str) -> Change:
        """Cancel (or, past the service's cancel window, refund) a payment the lane will not record as a sale."""
        intent = self.commits.open_intent(payment_id)
        if intent is None:
            return Change(self.visit.session)
        await self.commits.progress(payment_id, IntentState.CANCELLING, CHECKING, reversal=reason)
        ref, attempt = self._ref(intent), 0
        while True:
            # Judged at each attempt: a cancel still unanswered when the service's window closes becomes a refund.
            kind = reversal_kind(intent.created_at, self.clock.time(), self.settings.cancel_zone)
            result = await self._ask(self.adapter.cancel, ref) if kind == "cancel" else \
                await self._ask(self.adapter.refund, ref, f"R-{payment_id}", intent.amount)
            if result is not None and result.status is not PaymentStatus.AUTHORIZED:
                break
            attempt += 1
            if attempt % 5 == 0:
                self.health.degraded(f"payment {payment_id}: the {kind} is not confirmed yet; the lane keeps "
                                         "asking and the basket stays")
            await self.clock.sleep(min(1.0 * attempt, 10.0))
        if result.status is PaymentStatus.COMPLETED:     # the service refused to void it: the money stays, so a sale
            logger.warning("payment %s: the service kept the payment after a %s; recording the sale", payment_id,
                           kind)
            return await self.commits.succeed(payment_id, result)
        return await self.commits.finish(payment_id, IntentState.CANCELLED, reason)

    async def cancel_by_shopper(self) -> Change:
        """The shopper pressed cancel while paying: allowed while the QR is shown or the app is confirming."""
        session = self.visit.session
        payment = session.payment
        if session.state is not SessionState.PAYING or payment is None or payment.status != "waiting":
            return refuse(session, "payment_in_progress", "Your payment is being made and cannot be cancelled "
                          "now. Please wait.", "info")
        self._cancel.add(payment.payment_id)
        self.notified(payment.payment_id)
        task = self._tasks.get(payment.payment_id)
        if task is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), self.settings.timeout_s)
        return Change(self.visit.session)

    def notified(self, payment_id: str) -> bool:
        """The service said something happened (relayed by the cloud, perhaps more than once): ask now."""
        wake = self._wake.get(payment_id)
        if wake is not None:
            wake.set()
        return wake is not None

    def following(self) -> list[asyncio.Task[Change]]:
        """The payments being polled now (a test or the demo waits for them to settle)."""
        return list(self._tasks.values())

    async def stop(self) -> None:
        """Stop recovery and the payments being followed (the lane is stopping); every intent is on disk for the
        next start."""
        if self.recovery is not None:
            self.recovery.cancel()
            await asyncio.gather(self.recovery, return_exceptions=True)
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- recovery ----------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Reconcile, in a task, every payment not final; call it once the visit is loaded. The lane's devices
        and API start meanwhile, and a visit left `paying` takes no new shopper until its payment is settled."""
        self.recovery = asyncio.create_task(self.recover(), name="payment recovery")

    async def recover(self) -> None:
        """Reconcile every intent not final, oldest first, before the lane takes a new shopper."""
        # Read on the loop's own thread: a worker thread's reader could be mid-query when the lane stops.
        open_intents = intents.open_intents(self.lane_db.reader())
        session = self.visit.session
        if (session.state is SessionState.PAYING and session.payment is not None
                and all(i.payment_id != session.payment.payment_id for i in open_intents)
                and self.commits.intent(session.payment.payment_id) is None):
            open_intents.append(await self._adopt(session))      # a lane.db from before intents existed
        for intent in open_intents:
            logger.info("payment %s: reconciling an intent left %s", intent.payment_id, intent.state)
            if intent.state is IntentState.CREATED:
                await self.commits.finish(intent.payment_id, IntentState.CANCELLED, "never_sent")
            elif intent.state is IntentState.WAITING:
                self._follow(intent.payment_id)
            elif intent.state is IntentState.CANCELLING:
                await self.reverse(intent.payment_id, intent.reversal or "unknown")
            else:
                await self.commits.progress(intent.payment_id, IntentState.UNKNOWN, CHECKING)
                await self.settle(intent.payment_id)

    async def _adopt(self, session: Session) -> Intent:
        assert session.payment is not None
        now = self.clock.time()
        intent = Intent(session.payment.payment_id, session.session_id, session.payment.method, False,
                        session.payment.amount, self.currency, IntentState.REQUESTED, codec.dumps(session),
                        now, now)
        await self.lane_db.write(intents.create, intent)
        return intent

    # -- asking the service ------------------------------------------------------------------------------------

    @staticmethod
    def _ref(intent: Intent) -> PaymentRef:
        return PaymentRef(intent.payment_id, intent.merchant_presented, intent.code_id)

    async def _ask(self, call: Callable[..., Any], *args: Any) -> PaymentResult | None:
        """One call to the service, bounded by `timeout_s`; None when no usable answer came."""
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                result: PaymentResult = await call(*args)
                return result
        except Exception as exc:   # noqa: BLE001 - an unanswered query is asked again, never guessed
            logger.warning("payment %s: %s got no usable answer (%s)", args[0].payment_id,
                           getattr(call, "__name__", "call"), type(exc).__name__)
            return None

    async def _pause(self, wake: asyncio.Event, seconds: float) -> None:
        """Sleep on the lane's clock, or less when a notification or the shopper's cancel wakes the intent."""
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        waiter = asyncio.ensure_future(wake.wait())
        try:
            await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waiter.cancel()
            wake.clear()
