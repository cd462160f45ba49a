"""The shopper's visit at one lane: applies the pure rules, commits each change in one lane.db transaction, then
tells the screen; drives payment through the adapter and abandons idle baskets.

One asyncio lock serialises every change (scans, API actions, payment results, the inactivity timer), so a
change is always computed from the value the last commit left. The payment call itself runs outside the
lock: the session is `paying` by then and the state machine refuses anything that could change the amount.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent.clock import SYSTEM_CLOCK, Clock, rfc3339_ms
from agent.config import PointsSection, SessionSection
from agent.errors import StoreError
from agent.health import ComponentHealth
from agent.payment.adapter import PaymentAdapter, PaymentRequest, PaymentResult, PaymentStatus
from agent.session import actions, scans, seen_tokens, visits
from agent.session.basket import Prompt, Session, idle_session, with_prompt
from agent.session.change import Change
from agent.session.machine import SessionState
from agent.session.receipt import build_sale
from agent.session.sales import record_sale
from agent.session.totals import price, view
from agent.store import Database
from agent.sync import outbox
from agent.sync.disk import DiskGuard
from agent.sync.event_ids import new_event_id

logger = logging.getLogger(__name__)
Notify = Callable[[dict[str, Any]], None]
CHECKING = Prompt("checking_payment", "Checking your payment. Please wait.", "info")


@dataclass(frozen=True, slots=True)
class Committed:
    """What a committed change left: the scan's event (when there was one) and whether a token was replayed."""

    change: Change
    scan: tuple[str, int, dict[str, Any]] | None
    replayed: bool


class SessionController:
    """The one owner of the lane's current visit."""

    def __init__(self, *, lane_db: Database, settings: SessionSection, points: PointsSection | None,
                 adapter: PaymentAdapter, notify: Notify, health: ComponentHealth, currency: str = "JPY",
                 clock: Clock = SYSTEM_CLOCK, max_skew_s: int = 3600, guard: DiskGuard | None = None,
                 on_recorded: Callable[[int], None] = lambda priority: None, audit: Callable[[], float] = random.random,
                 payment_timeout_s: float = 30.0, store_id: str = "", lane_id: str = "") -> None:
        self.lane_db, self.settings, self.points, self.adapter = lane_db, settings, points, adapter
        self.notify, self.health, self.currency, self.clock = notify, health, currency, clock
        self.max_skew_s, self.guard, self.on_recorded, self.audit = max_skew_s, guard, on_recorded, audit
        self.payment_timeout_s, self.store_id, self.lane_id = payment_timeout_s, store_id, lane_id
        self.session = idle_session(clock.time())
        self.lane_open = True
        self._lock = asyncio.Lock()

    # -- reading -----------------------------------------------------------------------------------------------

    def view(self) -> dict[str, Any]:
        return view(self.session, price(self.session, self.settings, self.points), lane_open=self.lane_open)

    async def load(self) -> None:
        """Come back exactly as the last commit left the visit; a payment in flight is settled first."""
        stored = await asyncio.to_thread(self._read, visits.load)
        if stored is not None:
            self.session = stored
        payment = self.session.payment
        if self.session.state is SessionState.PAYING and payment is not None:
            self.session = with_prompt(self.session, CHECKING)
            self.notify({"type": "session", "session": self.view()})
            await self._settle(payment.payment_id)

    def _read(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        return fn(self.lane_db.reader())

    def suspended(self, code: str) -> Session | None:
        return visits.suspended(self.lane_db.reader(), code)

    def coupon_uses(self, coupon_id: str) -> int:
        return int(visits.coupon_uses(self.lane_db.reader(), coupon_id))

    # -- committing --------------------------------------------------------------------------------------------

    async def apply(self, compute: Callable[[Session], Change],
                    scan_fields: dict[str, Any] | None = None) -> Committed:
        """Compute a change from the current value, commit it, then tell the screen; all under the lock."""
        async with self._lock:
            return await self._apply_locked(compute(self.session), scan_fields)

    async def _apply_locked(self, change: Change, scan_fields: dict[str, Any] | None) -> Committed:
        before = self.session
        fields = None if scan_fields is None else {**scan_fields, **change.scan_fields}
        committed: Committed = await self.lane_db.write(self._commit, before, change, fields, self.clock.time())
        if not committed.replayed:
            self.session = change.session
        if change.events or committed.scan or change.sale:
            self.on_recorded(0 if change.sale else 2)
        self.notify({"type": "session", "session": self.view()})
        return committed

    def _commit(self, conn: sqlite3.Connection, before: Session, change: Change, fields: dict[str, Any] | None,
                now: float) -> Committed:
        """One transaction: the token claim, the events, the sale, the session row and the scan."""
        if change.claim is not None and seen_tokens.claim(conn, change.claim, change.session.session_id or None,
                                                          now, self.max_skew_s):
            scan = None
            if fields is not None:
                refused = {**fields, "outcome": "rejected", "reason": "replayed", "kind": "invalid"}
                scan = (*scans.record_scan(conn, refused), refused)
            return Committed(change, scan, True)
        if change.release_tokens and before.session_id:
            seen_tokens.release(conn, before.session_id)
        for topic_class, schema, body in change.events:
            outbox.enqueue(conn, topic_class, schema, body)
        if change.sale is not None:
            record_sale(conn, change.sale, self.guard)
            visits.redeem_coupons(conn, [(c["coupon_id"], c.get("jti")) for c in change.sale["coupons"]],
                                  change.sale["sale_id"], now)
        if change.suspended is not None:
            visits.suspend(conn, change.suspended[0], change.suspended[1], now)
        if change.resumed is not None:
            visits.mark_resumed(conn, change.resumed, now)
        visits.save(conn, change.session, now)
        scan = None if fields is None else (*scans.record_scan(conn, fields), fields)
        return Committed(change, scan, False)

    # -- payment -----------------------------------------------------------------------------------------------

    async def pay(self, method: str, user_code: str | None = None) -> Change:
        """Ask for payment: the intent is committed first, then the adapter is called with its payment ID."""
        async with self._lock:
            amount = price(self.session, self.settings, self.points).amount_due
            payment_id = new_event_id()
            change = actions.request_payment(self.session, method, amount, payment_id, self.settings, self.audit(),
                                             self.clock.time())
            await self._apply_locked(change, None)
        if not change.ok:
            return change
        request = PaymentRequest(payment_id, amount, self.currency, self.store_id, self.lane_id, user_code=user_code)
        try:
            async with asyncio.timeout(self.payment_timeout_s):
                result = await self.adapter.pay(request)
        except Exception as exc:   # noqa: BLE001 - whatever went wrong, the money may have moved: ask, never retry
            # Only the type is logged: an adapter's message could quote what the shopper's wallet sent.
            logger.warning("payment %s: no usable answer (%s); asking its status", payment_id, type(exc).__name__)
            await self.apply(lambda s: Change(with_prompt(s, CHECKING)))
            return await self._settle(payment_id)
        return await self._finish(result)

    async def _settle(self, payment_id: str, attempts: int = 5) -> Change:
        """Ask the service what happened to `payment_id`; never pay again blindly."""
        for attempt in range(attempts):
            try:
                async with asyncio.timeout(self.payment_timeout_s):
                    result = await self.adapter.status(payment_id)
            except Exception as exc:   # noqa: BLE001 - an unanswered status query is asked again, never guessed
                logger.warning("payment %s: status query failed (%s)", payment_id, type(exc).__name__)
                await self.clock.sleep(min(2.0 * (attempt + 1), 10.0))
                continue
            if result.status.final:
                return await self._finish(result)
            await self.clock.sleep(2.0)
        self.health.degraded(f"payment {payment_id} is still unknown after {attempts} status queries; the lane "
                             "keeps asking and the basket stays")
        return Change(self.session, refused="payment_unknown")

    async def _finish(self, result: PaymentResult) -> Change:
        async with self._lock:
            session = self.session
            if session.payment is None or session.payment.payment_id != result.payment_id:
                return Change(session, refused="stale_payment")
            now = self.clock.time()
            if result.status is PaymentStatus.COMPLETED:
                change = actions.payment_succeeded(session, self._sale(session, result), result.reference,
                                                   self.settings, now)
            else:
                reason = result.reason or "The payment did not go through. Please try again or ask staff."
                change = actions.payment_failed(session, reason, self.settings, now)
            try:
                await self._apply_locked(change, None)
            except StoreError as exc:      # charged but not recorded: stay paying; recovery records it
                self.health.degraded(f"a paid sale could not be recorded yet: {exc}")
                raise
            if change.sale is not None:
                self.health.count("sales")
            return change

    def _sale(self, session: Session, result: PaymentResult) -> dict[str, Any]:
        priced = price(session, self.settings, self.points)
        assert session.payment is not None
        if priced.amount_due != session.payment.amount:
            logger.error("sale %s: priced %d but charged %d; recording what was charged", session.session_id,
                         priced.amount_due, session.payment.amount)
        payment = {"method": session.payment.method, "amount": session.payment.amount,
                   "payment_id": session.payment.payment_id, "reference": result.reference}
        return build_sale(session, priced, sale_id=new_event_id().replace("-", "").upper(),
                          occurred_at=rfc3339_ms(self.clock.now()), monotonic=self.clock.monotonic(),
                          settings=self.settings, currency=self.currency, payment=payment)

    # -- the inactivity timer ----------------------------------------------------------------------------------

    async def run(self, health: ComponentHealth) -> None:
        """Supervised component: abandons a visit nobody touched for `inactivity_timeout_s`."""
        health.ok()
        while True:
            remaining = self.session.last_activity + self.settings.inactivity_timeout_s - self.clock.time()
            await self.clock.sleep(max(0.05, min(remaining, 5.0)))
            async with self._lock:
                change = actions.inactivity(self.session, self.settings, self.clock.time())
                if change is not None:
                    await self._apply_locked(change, None)
                    health.count("abandoned")
