"""Whether a way to pay may start for this basket (pure): the method, what the adapter takes, and the amount.

Why apart from the checkout: these are rules, judged before an intent is recorded or a service hears of
anything, and a refusal here changes nothing but the prompt. A basket with nothing to pay is a sale at once
(`no_charge`), never a payment of 0 sent to a wallet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from agent.catalog.records import OfflinePolicy
from agent.payment.adapter import Capabilities
from agent.session.rules import action_rules
from agent.session.rules.basket import Session
from agent.session.rules.visit_change import Change, refuse
from agent.session.settings import SessionSection

METHODS = {"wallet_code": False, "wallet_qr": True, "simulated": False}   # method -> merchant-presented
NO_CHARGE = "no_charge"     # the sale's payment method when there was nothing to pay (no service was asked)
SaleFor = Callable[[Session, str, int, str, str | None], dict[str, Any]]


def method_refusal(session: Session, method: str, user_code: str | None, caps: Capabilities) -> Change | None:
    """An unknown method, or one no payment can be made with here: refused before an intent exists (a real
    service would otherwise get a payment with no wallet, then a cancel)."""
    if method not in METHODS:
        return refuse(session, "unknown_method", f"Unknown way to pay: {method}.")
    if method == "simulated" and not caps.simulated or method == "wallet_code" and user_code is None:
        return not_available(session)
    return None


def capability_refusal(session: Session, method: str, caps: Capabilities) -> Change | None:
    merchant = METHODS[method]
    if merchant and not caps.merchant_presented or not merchant and not caps.customer_presented:
        return not_available(session)
    return None


def not_available(session: Session) -> Change:
    return refuse(session, "method_not_available", "This way to pay is not available at this lane. Please "
                  "choose another.")


def below_minimum(session: Session, amount: int, payment_id: str, sale_for: SaleFor, settings: SessionSection,
                  audit_draw: float, now: float, policy: OfflinePolicy = action_rules.DEFAULT_POLICY) -> Change:
    """An amount under the adapter's minimum: nothing to pay is a `no_charge` sale (through the state machine,
    so a random audit still applies); a positive amount below the minimum is refused and staff take it."""
    if amount > 0:
        return refuse(session, "amount_below_minimum", "This amount is too small to pay by wallet. Your basket "
                      "is kept: please ask a member of staff.")
    change = action_rules.request_payment(session, NO_CHARGE, 0, payment_id, settings, audit_draw, now, policy)
    if not change.ok:
        return change
    sale = sale_for(change.session, NO_CHARGE, 0, payment_id, None)
    # No money moves, so the disk guard applies as to any new sale (`charged` false).
    return replace(action_rules.payment_succeeded(change.session, sale, None, settings, now), charged=False)
