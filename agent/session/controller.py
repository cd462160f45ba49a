"""The shopper's visit at one lane: applies the pure rules, commits each change in one lane.db transaction, then
tells the screen, and abandons idle baskets. The checkout (agent/session/checkout.py) drives payments through
the visit's port (agent/session/visit_port.py), which this class satisfies; neither module imports the other.

One asyncio lock serialises every change (scans, API actions, payment results, the inactivity timer), so a
change is always computed from the value the last commit left. The payment call itself runs outside the
lock: the session is `paying` by then and the state machine refuses anything that could change the amount.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from agent.clock import SYSTEM_CLOCK, Clock, rfc3339_ms
from agent.health import NOBODY, ComponentHealth, Observers
from agent.payment.adapter import PaymentAdapter
from agent.payment.settings import PaymentSection
from agent.session.offline import OfflineLookup, fresh, over_sale_cap, sale_cap_message
from agent.session.pricing.engine_types import PricedBasket
from agent.session.records import scans, seen_tokens, visits
from agent.session.records.sales import record_sale
from agent.session.rules import action_rules
from agent.session.rules.attendant_rules import attendant_events
from agent.session.rules.basket import Session, idle_session, with_prompt, within_limits
from agent.session.rules.machine import SessionState
from agent.session.rules.payment_prompts import CHECKING
from agent.session.rules.receipt import build_sale
from agent.session.rules.totals import price, view
from agent.session.rules.visit_change import Change, refuse
from agent.session.settings import PointsSection, SessionSection
from agent.session.visit_port import Also
from agent.store import Database
from agent.sync import outbox
from agent.sync.disk import DiskGuard
from agent.sync.event_ids import new_event_id

logger = logging.getLogger(__name__)
Notify = Callable[[dict[str, Any]], None]


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
                 on_recorded: Callable[[int], None] = lambda priority: None, payment: PaymentSection | None = None,
                 offline_policy: OfflineLookup = fresh, observers: Observers = NOBODY,
                 clock_trusted: Callable[[], bool] = lambda: True) -> None:
        self.lane_db, self.settings, self.points, self.adapter = lane_db, settings, points, adapter
        self.notify, self.health, self.currency, self.clock = notify, health, currency, clock
        self.max_skew_s, self.guard, self.on_recorded = max_skew_s, guard, on_recorded
        self.offline_policy = offline_policy      # the catalog's offline policy while it is stale, else None
        self.session = idle_session(clock.time())
        self.lane_open = True
        self.lock = asyncio.Lock()
        # One lock per sale being reversed by staff (agent/session/refunds.py): two voids at once give one.
        self.reversing: dict[str, asyncio.Lock] = {}
        self.payment = payment or PaymentSection()     # the staff reversals' timeouts and cancel window
        # Each committed change (its session events and sale), for the metrics the composition root wires.
        self.observe_change: Callable[[Change], None] = observers.change
        # Whether the wall clock is trusted now (agent.clock.clock_trust, wired by the composition root): every
        # session event says so, as the scan events do.
        self.clock_trusted = clock_trusted

    # -- reading -----------------------------------------------------------------------------------------------

    def view(self) -> dict[str, Any]:
        return view(self.session, self.priced(self.session), lane_open=self.lane_open)

    def priced(self, session: Session) -> PricedBasket:
        """A visit priced by the one engine, under the offline policy while the catalog is stale."""
        return price(session, self.settings, self.points, self.offline_policy())

    async def load(self) -> None:
        """Come back exactly as the last commit left the visit; a visit left `paying` says "checking your payment"
        until the checkout's recovery (`Checkout.start`) has settled it."""
        stored = await asyncio.to_thread(self._read, visits.load)
        if stored is not None:
            self.session = stored
        if self.session.state is SessionState.PAYING:
            self.session = with_prompt(self.session, CHECKING)
            self.notify({"type": "session", "session": self.view()})

    def _read(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        return fn(self.lane_db.reader())

    def suspended(self, code: str) -> Session | None:
        """The basket kept under `code`, brought within its limits now (coupons used up meanwhile are taken off,
        points cut to what is left), with a prompt saying what changed."""
        kept = visits.suspended(self.lane_db.reader(), code)
        if kept is None:
            return None
        checked, reasons = self.within_limits(kept)
        return with_prompt(checked, action_rules.limits_prompt(checked, reasons)) if reasons else checked

    def coupon_uses(self, coupon_id: str) -> int:
        return int(visits.coupon_uses(self.lane_db.reader(), coupon_id))

    def points_spent(self, member_id: str, version: int | None) -> int:
        """The member's redemptions at this lane that the cloud's balance of `version` does not include yet."""
        return visits.points_spent(self.lane_db.reader(), member_id, version)

    def within_limits(self, basket: Session) -> tuple[Session, tuple[str, ...]]:
        """`basket` checked against the lane's ledgers now: coupon uses and the member's points left."""
        uses = {c.coupon_id: self.coupon_uses(c.coupon_id) for c in basket.coupons if c.max_uses is not None}
        member, left = basket.member, None
        if member is not None and member.points_cloud is not None:
            left = max(0, member.points_cloud - self.points_spent(member.member_id, member.points_version))
        return within_limits(basket, uses, left)

    async def refresh_limits(self) -> None:
        """Bring the visit on screen up to the lane's ledgers after they changed under it (a staff reversal gave
        a member's points back): the balance shown is what the member may spend now; nothing else changes."""
        async with self.lock:
            checked, _reasons = self.within_limits(self.session)
            if checked != self.session:
                await self.apply_locked(Change(checked))

    # -- committing --------------------------------------------------------------------------------------------

    async def apply(self, compute: Callable[[Session], Change],
                    scan_fields: dict[str, Any] | None = None) -> Committed:
        """Compute a change from the current value, commit it, then tell the screen; all under the lock."""
        async with self.lock:
            return await self.apply_locked(self._within_offline_cap(compute(self.session)), scan_fields)

    def _within_offline_cap(self, change: Change) -> Change:
        """While the catalog is stale, a step that takes the total past `max_sale_total` is refused (the basket
        stays as it was); agent/session/offline.py."""
        policy = self.offline_policy()
        if policy is None or not change.ok or change.session is self.session:
            return change
        if not over_sale_cap(self.priced(self.session).total, self.priced(change.session).total, policy):
            return change
        return refuse(self.session, "offline_sale_cap", sale_cap_message(policy), outcome="rejected",
                      reason="offline_sale_cap")

    async def apply_locked(self, change: Change, scan_fields: dict[str, Any] | None = None,
                           also: Also | None = None) -> Committed:
        """Commit a change while holding `lock`; `also` writes more rows (a payment intent) in the same transaction."""
        before = self.session
        change = self._stamped(change)
        if change.ok and (calls := attendant_events(before, change.session)):
            change = replace(change, events=(*change.events, *calls))
        fields = None if scan_fields is None else {**scan_fields, **change.scan_fields}
        committed: Committed = await self.lane_db.write(self._commit, before, change, fields, self.clock.time(),
                                                        also)
        if not committed.replayed:
            self.session = change.session
            self.observe_change(change)
        written = _priorities(change, committed)
        if written:
            self.on_recorded(min(written))       # once per commit, with the class that drains first
        self.notify({"type": "session", "session": self.view()})
        return committed

    def _stamped(self, change: Change) -> Change:
        """Session events carry `clock_trusted`: a token's own verdict when the change claims one (the allowance
        its `exp` was checked with), else the clock's trust now."""
        if not change.events:
            return change
        trusted = change.claim.clock_trusted if change.claim is not None else self.clock_trusted()
        events = tuple((topic, schema, {**body, "clock_trusted": trusted}) if schema == "omo.session/1"
                       else (topic, schema, body) for topic, schema, body in change.events)
        return replace(change, events=events)

    def _commit(self, conn: sqlite3.Connection, before: Session, change: Change, fields: dict[str, Any] | None,
                now: float, also: Also | None = None) -> Committed:
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
            # A charged sale is recorded whatever the disk says: the money moved. New sales are stopped before
            # the payment instead (Checkout.pay asks the guard).
            record_sale(conn, change.sale, None if change.charged else self.guard)
            visits.redeem_coupons(conn, [(c["coupon_id"], c.get("jti")) for c in change.sale["coupons"]],
                                  change.sale["sale_id"], now)
            if change.points_spent is not None:
                member_id, points, version = change.points_spent
                visits.spend_points(conn, member_id, change.sale["sale_id"], points, version, now)
        if change.suspended is not None:
            visits.suspend(conn, change.suspended[0], change.suspended[1], now)
        if change.resumed is not None:
            visits.mark_resumed(conn, change.resumed, now)
        if also is not None:
            also(conn)
        visits.save(conn, change.session, now)
        scan = None if fields is None else (*scans.record_scan(conn, fields), fields)
        return Committed(change, scan, False)

    # -- the sale of a paid visit (for the checkout, through the visit's port) --------------------------------

    def sale_for(self, basket: Session, method: str, amount: int, payment_id: str,
                 reference: str | None) -> dict[str, Any]:
        """The sale of a basket that was charged `amount`: what was charged is what is recorded."""
        priced = self.priced(basket)
        if priced.amount_due != amount:
            logger.error("sale %s: priced %d but charged %d; recording what was charged", basket.session_id,
                         priced.amount_due, amount)
        payment = {"method": method, "amount": amount, "payment_id": payment_id, "reference": reference}
        return build_sale(basket, priced, sale_id=new_event_id().replace("-", "").upper(),
                          occurred_at=rfc3339_ms(self.clock.now()), monotonic=self.clock.monotonic(),
                          settings=self.settings, currency=self.currency, payment=payment)

    # -- the inactivity timer ----------------------------------------------------------------------------------

    async def run(self, health: ComponentHealth) -> None:
        """Supervised component: abandons a visit nobody touched for `inactivity_timeout_s`."""
        health.ok()
        while True:
            remaining = self.session.last_activity + self.settings.inactivity_timeout_s - self.clock.time()
            await self.clock.sleep(max(0.05, min(remaining, 5.0)))
            async with self.lock:
                change = action_rules.inactivity(self.session, self.settings, self.clock.time())
                if change is not None:
                    await self.apply_locked(change, None)
                    health.count("abandoned")


def _priorities(change: Change, committed: Committed) -> list[int]:
    """The outbox priority of every row a commit wrote (agent/sync/outbox.py SCHEMAS): its events, sale, scan."""
    schemas = [schema for _, schema, _ in change.events]
    if change.sale is not None and not committed.replayed:
        schemas.append("omo.sale/1")
    if committed.scan is not None:
        schemas.append("omo.scan/1")
    return [outbox.SCHEMAS[schema][1] for schema in schemas]
