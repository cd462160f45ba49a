"""The visit priced by the one engine (`agent/session/pricing/engine.py`), and the view the screen and the API show.

Every total the shopper sees, the receipt prints and the cloud receives comes from `price()`; nothing else in
the project adds money up. Coupons the basket no longer qualifies for stay in the visit, marked not applied,
with a prompt, so they apply again by themselves if the shopper adds the missing items.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from agent.catalog.rates import canonical_rate, is_reduced
from agent.catalog.records import OfflinePolicy
from agent.session.pricing.engine import price_basket
from agent.session.pricing.engine_types import (
    CouponRule,
    LineInput,
    PointsRule,
    PricedBasket,
    PromotionRule,
    TaxConfig,
)
from agent.session.rules.basket import Session
from agent.session.settings import PointsSection, SessionSection


def price(session: Session, settings: SessionSection, points: PointsSection | None,
          offline: OfflinePolicy | None = None) -> PricedBasket:
    """The visit priced; `offline` is the catalog's offline policy while the catalog is stale (None: fresh),
    which may take member prices and a redemption away and caps every coupon (agent/session/offline.py)."""
    member_prices = offline is None or offline.member_prices
    lines = [LineInput(line_id=line.line_id, gtin=line.gtin, name=line.name, quantity=line.quantity,
                       unit_price=line.unit_price, member_price=line.member_price if member_prices else None,
                       tax_rate=line.tax_rate, department=line.department, fixed_amount=line.fixed_amount,
                       position=line.position, expiry=line.expiry, scanned_on=line.scanned_on)
             for line in session.active_lines]
    promotions = [PromotionRule(promo_id=p.promo_id, type=p.type, quantity=p.quantity, bundle_price=p.bundle_price,
                                percent=p.percent, amount=p.amount, member_only=p.member_only,
                                gtins=frozenset(p.gtins), stacks=p.stacks, days_before=p.days_before)
                  for p in session.promotions]
    offline_cap = None if offline is None else offline.max_coupon_value
    coupons = [CouponRule(coupon_id=c.coupon_id, amount=c.amount, percent=c.percent, min_spend=c.min_spend,
                          gtins=frozenset(c.gtins), departments=frozenset(c.departments), member_only=c.member_only,
                          max_saving=_lowest(c.max_value, offline_cap)) for c in session.coupons]
    redeem = session.points_to_redeem if offline is None or offline.points_redemption else 0
    rule = None if points is None else PointsRule(basis=points.basis, earning=points.earning, unit=points.unit,
                                                  points_per_unit=points.points_per_unit, rounding=points.rounding,
                                                  tier_multipliers=dict(points.tier_multipliers))
    return price_basket(lines, member_tier=None if session.member is None else session.member.tier,
                        promotions=promotions, coupons=coupons,
                        tax=TaxConfig(mode=settings.tax_mode, rounding=settings.tax_rounding), points=rule,
                        points_to_redeem=redeem)


def _lowest(*caps: int | None) -> int | None:
    """The tightest of the caps given (the one latched when the coupon was scanned, the policy's now)."""
    given = [cap for cap in caps if cap is not None]
    return min(given) if given else None


def view(session: Session, priced: PricedBasket, *, lane_open: bool = True) -> dict[str, Any]:
    """`GET /v1/session` and the WebSocket's `session` message: everything the screen needs, nothing secret."""
    nets = {line.line_id: line for line in priced.lines}
    return {
        "session_id": session.session_id or None,
        "state": session.state.value,
        "lane_open": lane_open,
        "lines": [{"line_id": line.line_id, "gtin": line.gtin, "name": line.name, "names": line.names,
                   "quantity": line.quantity, "unit_price": line.unit_price, "member_price": line.member_price,
                   "tax_rate": canonical_rate(line.tax_rate),
                   "reduced_rate": is_reduced(line.tax_rate), "fixed_amount": line.fixed_amount,
                   "weight_g": line.weight_g, "unit": line.unit, "age_restricted": line.age_restricted,
                   "expiry": line.expiry,
                   "gross": nets[line.line_id].gross if line.line_id in nets else 0,
                   "net": nets[line.line_id].net if line.line_id in nets else 0}
                  for line in session.active_lines],
        "discounts": [_discount(d) for d in priced.discounts],
        "totals": {"subtotal": priced.subtotal, "discount": priced.discount_total, "total": priced.total,
                   "tax": priced.tax_total, "points_redeemed": priced.points_redeemed,
                   "amount_due": priced.amount_due,
                   "rates": [{"rate": r.rate, "total": r.total, "taxable_base": r.taxable_base, "tax": r.tax}
                             for r in priced.rates]},
        "member": None if session.member is None else {
            "member_id": session.member.member_id, "tier": session.member.tier,
            "points_balance": session.member.points_balance, "points_to_earn": priced.points_earned},
        "coupons": [{"coupon_id": c.coupon_id, "applied": c.applied, "reason": c.reason} for c in priced.coupons],
        "interventions": [asdict(i) for i in session.interventions if i.status == "pending"],
        "prompts": [asdict(p) for p in session.prompts],
        "payment": None if session.payment is None else {
            "payment_id": session.payment.payment_id, "method": session.payment.method,
            "amount": session.payment.amount, "status": session.payment.status,
            "reason": session.payment.reason, "qr_payload": session.payment.qr_payload,
            "expires_at": session.payment.expires_at},
        "sale_id": session.sale_id,
        "suspend_code": session.extra.get("suspend_code"),
    }


def _discount(discount: Any) -> dict[str, Any]:
    return {"discount_id": discount.discount_id, "kind": discount.kind, "source_id": discount.source_id,
            "label": discount.label, "amount": discount.amount,
            "refers_to": [{"line_id": line_id, "amount": amount} for line_id, amount in discount.refers_to]}
