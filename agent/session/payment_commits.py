"""Each state a payment reaches, committed with the visit: the intent row, and the visit's view of it, in one
lane.db transaction through the visit's port; a final state with its `omo.payment/1` event (and a sale).

Apart from the checkout, which decides what to ask the payment service and when: this module only records
the answers, so that no state is ever shown that lane.db does not hold.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from agent.clock import Clock
from agent.errors import StoreError
from agent.health import ComponentHealth
from agent.payment import intents
from agent.payment.adapter import PaymentResult
from agent.payment.intents import Intent, IntentState
from agent.session.rules import action_rules, codec
from agent.session.rules.basket import Prompt
from agent.session.rules.payment_prompts import DECLINED, RELEASED
from agent.session.rules.visit_change import Change
from agent.session.visit_port import VisitPort
from agent.store import Database
from agent.sync import outbox

logger = logging.getLogger("agent.session.checkout")   # one logger for a payment's whole story


class PaymentCommits:
    """Commits each state of the lane's payment intents with the visit; used by the checkout only."""

    def __init__(self, visit: VisitPort, *, lane_db: Database, clock: Clock, health: ComponentHealth,
                 observe: Callable[[Intent], None]) -> None:
        self.visit, self.lane_db, self.clock, self.health = visit, lane_db, clock, health
        self.observe = observe        # each intent that reached a final state, once committed (the metrics)

    def current(self, payment_id: str) -> bool:
        """Whether `payment_id` is the payment of the visit on the lane now."""
        payment = self.visit.session.payment
        return payment is not None and payment.payment_id == payment_id

    def intent(self, payment_id: str) -> Intent | None:
        return intents.get(self.lane_db.reader(), payment_id)

    def open_intent(self, payment_id: str) -> Intent | None:
        """The intent, if it is not final yet (a final one is never moved again)."""
        intent = self.intent(payment_id)
        return None if intent is None or intent.state.final else intent

    async def progress(self, payment_id: str, state: IntentState, prompt: Prompt | None, **fields: Any) -> Change:
        """Commit a state that is not final: the intent, and the session's view of it when it is this visit's."""
        async with self.visit.lock:
            now = self.clock.time()
            view = {k: v for k, v in fields.items() if k in ("qr_payload", "expires_at")}
            change = action_rules.payment_progress(self.visit.session, payment_id, state.value, prompt, now, **view)
            if not change.ok:
                change = Change(self.visit.session)
            await self.visit.apply_locked(change, None,
                                          lambda conn: intents.advance(conn, payment_id, state, now, **fields))
            return change

    async def finish(self, payment_id: str, state: IntentState, reason: str) -> Change:
        """A final state without a sale: the intent, its event and the released (or declined) basket, together."""
        async with self.visit.lock:
            if self.open_intent(payment_id) is None:
                return Change(self.visit.session, refused="stale_payment")
            now = self.clock.time()
            if not self.current(payment_id):
                change = Change(self.visit.session)
            elif state is IntentState.FAILED:
                change = action_rules.payment_failed(self.visit.session, reason, self.visit.settings, now)
            else:
                change = action_rules.payment_released(self.visit.session, payment_id, reason,
                                                       RELEASED.get(reason, DECLINED), self.visit.settings, now)
            fields = {"reason": reason} if state is IntentState.FAILED else {"reversal": reason}
            await self.commit_final(change, payment_id, state, now, **fields)
            return change

    async def succeed(self, payment_id: str, result: PaymentResult) -> Change:
        """The money moved: record it, trying again while lane.db refuses the commit (the intent stays open, so
        a restart records it too); the shopper sees "checking your payment" meanwhile."""
        attempt = 0
        while True:
            try:
                change = await self.record_success(payment_id, result)
                if attempt:
                    self.health.ok()
                return change
            except StoreError as exc:
                attempt += 1
                self.health.degraded(f"a paid sale could not be recorded yet ({exc}); the lane keeps trying "
                                         "and the shopper waits")
                logger.error("payment %s: charged, but the sale's commit failed (%s); trying again", payment_id, exc)
                await self.clock.sleep(min(0.5 * attempt, 5.0))

    async def record_success(self, payment_id: str, result: PaymentResult) -> Change:
        async with self.visit.lock:
            intent = self.open_intent(payment_id)
            if intent is None:
                return Change(self.visit.session, refused="stale_payment")
            now = self.clock.time()
            current = self.current(payment_id)
            basket = self.visit.session if current else codec.loads(intent.basket)
            sale = self.visit.sale_for(basket, intent.method, intent.amount, payment_id, result.reference)
            if current:
                change = action_rules.payment_succeeded(self.visit.session, sale, result.reference,
                                                        self.visit.settings, now)
            else:   # the visit moved on (it cannot, while paying; kept for safety): record the sale all the same
                logger.error("payment %s succeeded for visit %s, which is no longer the lane's; recording its sale",
                             payment_id, intent.session_id)
                change = Change(self.visit.session, sale=sale, charged=True,
                                points_spent=action_rules.points_spent(basket, sale))
            await self.commit_final(change, payment_id, IntentState.SUCCEEDED, now, sale_id=sale["sale_id"],
                                     reference=result.reference)
            self.health.count("sales")
            return change

    async def commit_final(self, change: Change, payment_id: str, state: IntentState, now: float,
                            **fields: Any) -> None:
        """The change, the intent's final state and its `omo.payment/1` event in one transaction (under `lock`)."""
        final: list[Intent] = []

        def write(conn: sqlite3.Connection) -> None:
            final.append(intents.advance(conn, payment_id, state, now, **fields))
            outbox.enqueue(conn, "sales", "omo.payment/1", payment_event(final[0]))

        await self.visit.apply_locked(change, None, write)
        self.observe(final[0])


def payment_event(intent: Intent) -> dict[str, Any]:
    """The `omo.payment/1` body of a final intent; never a wallet code (the row has none)."""
    return {"payment_id": intent.payment_id, "session_id": intent.session_id, "method": intent.method,
            "presented_by": "merchant" if intent.merchant_presented else "customer", "amount": intent.amount,
            "currency": intent.currency, "state": intent.state.value, "reference": intent.reference,
            "reason": intent.reason, "reversal": intent.reversal, "sale_id": intent.sale_id}
