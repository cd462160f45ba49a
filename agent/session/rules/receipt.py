"""The completed sale: the `omo.sale/1` body and its structured receipt, both from one priced basket.

The receipt follows Japan's simplified qualified invoice: the issuer and its registration number (`T` + 13
digits), the date, the items with the reduced-rate ones marked (※), the total per rate and the tax per rate.
The tax is the engine's (once per rate per receipt), so the receipt, the screen and the cloud cannot differ.
A Code 128 of the sale ID lets a staffed register find the sale for a return: the sale carries its data, and
the screen renders it (python-barcode, SVG) when it shows the receipt. Rendering it inside the sale's commit
cost 4-10 ms of the lane's time per payment and put 20 kB of SVG in every sale event (bench/payment.py).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from agent.catalog.rates import is_reduced
from agent.session.pricing.engine_types import PricedBasket
from agent.session.rules import audit_rules
from agent.session.rules.basket import Session
from agent.session.rules.totals import view
from agent.session.settings import SessionSection


@lru_cache(maxsize=64)
def code128_svg(data: str) -> str:
    """The sale ID as a Code 128 barcode in SVG, without human-readable text (the receipt prints the ID).

    Imported here, at the first sale: python-barcode loads Pillow when it is installed, which cost the
    daemon's start-up 13 ms and several MB of resident memory it does not need until a sale.
    """
    import barcode
    from barcode.writer import SVGWriter

    rendered = barcode.get("code128", data, writer=SVGWriter()).render(
        {"module_height": 8.0, "write_text": False, "quiet_zone": 2.0})
    return bytes(rendered).decode("utf-8")


def build_sale(session: Session, priced: PricedBasket, *, sale_id: str, occurred_at: str, monotonic: float,
               settings: SessionSection, currency: str, payment: dict[str, Any]) -> dict[str, Any]:
    """The sale event's body: lines, discounts, points, per-rate tax, the payment and the receipt."""
    shown = view(session, priced)
    rates = shown["totals"]["rates"]
    body: dict[str, Any] = {
        "sale_id": sale_id, "session_id": session.session_id, "status": "completed", "occurred_at": occurred_at,
        "member_id": None if session.member is None else session.member.member_id,
        "currency": currency, "lines": shown["lines"], "discounts": shown["discounts"],
        "coupons": [{"coupon_id": c.coupon_id, "jti": c.jti} for c in session.coupons
                    if any(o.coupon_id == c.coupon_id and o.applied for o in priced.coupons)],
        "points": priced.points_earned, "points_redeemed": priced.points_redeemed,
        "tax": priced.tax_total, "tax_mode": settings.tax_mode, "tax_rounding": settings.tax_rounding,
        "tax_breakdown": rates, "subtotal": priced.subtotal, "discount_total": priced.discount_total,
        "total": priced.total, "amount_due": priced.amount_due, "payment": payment,
        "clock": {"monotonic": round(monotonic, 3), "synchronised": session.clock_synced},
    }
    body["receipt"] = receipt(body, settings)
    if audited := audit_rules.receipt_lines(session):     # a random audit's differences, a line each
        body["receipt"]["audit"] = audited
    return body


def masked(reference: str | None) -> str | None:
    """The payment's reference as the receipt shows it: its last four characters, enough to match a statement."""
    if not reference:
        return None
    return "*" * max(0, min(len(reference) - 4, 8)) + reference[-4:]


def receipt(sale: dict[str, Any], settings: SessionSection) -> dict[str, Any]:
    """What the printer or the screen shows; every figure is taken from the sale, none computed again."""
    return {
        "issuer": settings.issuer_name, "registration_number": settings.registration_number,
        "date": sale["occurred_at"], "sale_id": sale["sale_id"],
        "items": [{"name": line["name"] + (" ※" if is_reduced(line["tax_rate"]) else ""),
                   "names": line.get("names") or {}, "reduced": is_reduced(line["tax_rate"]),
                   "line_id": line.get("line_id"), "quantity": line["quantity"], "amount": line["net"]}
                  for line in sale["lines"]],
        "discounts": [{"label": d["label"], "kind": d["kind"], "amount": d["amount"],
                       "lines": [{"line_id": r["line_id"], "amount": r["amount"]} for r in d.get("refers_to", ())]}
                      for d in sale.get("discounts", ())],
        "coupons": [c["coupon_id"] for c in sale.get("coupons", ())],
        "points_redeemed": sale.get("points_redeemed", 0), "subtotal": sale.get("subtotal"),
        "tax": sale.get("tax"),
        "payment": _payment(sale.get("payment")),
        "reduced_rate_note": "※ reduced tax rate" if any(is_reduced(line["tax_rate"])
                                                         for line in sale["lines"]) else None,
        "rates": [{"rate": r["rate"], "total": r["total"], "tax": r["tax"]} for r in sale["tax_breakdown"]],
        "total": sale["total"], "points_earned": sale["points"],
        "barcode": {"symbology": "code128", "data": sale["sale_id"]},
    }


def _payment(payment: dict[str, Any] | None) -> dict[str, Any] | None:
    """How the sale was paid, as printed: the method, the amount and the reference masked."""
    if payment is None:
        return None
    return {"method": payment["method"], "amount": payment["amount"], "reference": masked(payment.get("reference"))}
