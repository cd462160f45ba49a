"""What a scan means: one frozen value per kind, each able to say what may go into the published scan event.

Safety rules the types enforce: a payment code's digits live only in a field excluded from repr and events; a
token's signature is never stored (only verified `Claims`); event text is masked wherever it could be a card
or payment number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import ClassVar

from agent.interpret.tokens import Claims

EventFields = dict[str, str | None]
_LONG_DIGITS = re.compile(r"\d{15,}")
MAX_EVENT_TEXT = 96


def mask(code: str, keep: int = 4) -> str:
    """'2512345678901234' -> '************1234' (length kept, so support can tell codes apart)."""
    return "*" * max(0, len(code) - keep) + code[-keep:] if len(code) > keep else "*" * len(code)


def safe_text(text: str) -> str:
    """Text fit for a log or event: long digit runs (possible card/payment numbers) masked, length capped,
    control characters shown as escapes."""
    return printable(_LONG_DIGITS.sub(lambda m: mask(m.group()), text[:MAX_EVENT_TEXT]))


def printable(text: str) -> str:
    """Control characters (GS) as escapes, length capped; for text that cannot hold a card number."""
    text = text[:MAX_EVENT_TEXT]
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def token_text(kid: str | None, typ: str | None, jti: str | None) -> str:
    """How a token appears in events: what identifies it, never the signature."""
    return f"jws kid={safe_text(kid or '?')} typ={safe_text(typ or '?')} jti={safe_text(jti or '?')}"


@dataclass(frozen=True, slots=True)
class Product:
    """A sellable item: the catalog key, and what the code itself says about price, measure and dates."""

    kind: ClassVar[str] = "product"
    gtin14: str
    source: str                       # ean13 | ean8 | upca | upce | gtin14 | rcn | gs1 | digital_link
    prefix: str = "product"           # agent.interpret.gtin.PrefixKind value (isbn, issn, restricted, ...)
    price_minor: int | None = None    # embedded price (RCN or AI 392x/393x): overrides the catalog price
    weight_g: Decimal | None = None   # exact grams (GS1 310x/320x, RCN weight); priced exactly, rounded once
    count: int | None = None
    expiry: date | None = None
    best_before: date | None = None
    batch: str | None = None          # AI 10, kept for recall checks
    serial: str | None = None
    rcn_item: str | None = None
    blocked: str | None = None        # e.g. "expired": the lane asks for an attendant
    text: str = ""

    def grams(self) -> int | None:
        """The weight to the nearest gram, for display only: the amount is priced from `weight_g` itself."""
        return None if self.weight_g is None else int(self.weight_g.to_integral_value(ROUND_HALF_UP))

    def event_fields(self) -> EventFields:
        outcome = "attendant" if self.blocked else "accepted"
        fields: EventFields = {"kind": self.kind, "gtin": self.gtin14, "outcome": outcome, "reason": self.blocked,
                               "text": printable(self.text)}
        if self.batch is not None:          # for recall tracing: which lot was sold (or refused) where
            fields["lot"] = printable(self.batch)
        if self.expiry is not None:
            fields["expiry"] = self.expiry.isoformat()
        return fields


@dataclass(frozen=True, slots=True)
class Member:
    """A shopper identified by an app token (`member_id` known) or a legacy card (looked up later)."""

    kind: ClassVar[str] = "member"
    member_id: str | None = None
    card_number: str | None = field(default=None, repr=False)
    card_rule: str | None = None
    claims: Claims | None = None

    def event_fields(self) -> EventFields:
        text = (token_text(self.claims.kid, self.claims.typ, self.claims.jti) if self.claims
                else mask(self.card_number or ""))
        return {"kind": self.kind, "gtin": None, "outcome": "accepted", "reason": None, "text": text}


@dataclass(frozen=True, slots=True)
class Coupon:
    """A coupon: an app token (single use, checked by agent.session.records.seen_tokens) or a printed GS1 coupon
    number."""

    kind: ClassVar[str] = "coupon"
    coupon_id: str
    member_id: str | None = None
    claims: Claims | None = None
    barcode: str | None = None

    def event_fields(self) -> EventFields:
        text = token_text(self.claims.kid, self.claims.typ, self.claims.jti) if self.claims else self.barcode
        return {"kind": self.kind, "gtin": self.barcode, "outcome": "accepted", "reason": None, "text": text}


@dataclass(frozen=True, slots=True)
class PickupOrder:
    kind: ClassVar[str] = "order"
    order_id: str
    member_id: str
    claims: Claims

    def event_fields(self) -> EventFields:
        return {"kind": self.kind, "gtin": None, "outcome": "accepted", "reason": None,
                "text": token_text(self.claims.kid, self.claims.typ, self.claims.jti)}


@dataclass(frozen=True, slots=True)
class StaffCode:
    kind: ClassVar[str] = "staff"
    staff_id: str
    claims: Claims

    def event_fields(self) -> EventFields:
        return {"kind": self.kind, "gtin": None, "outcome": "accepted", "reason": None,
                "text": token_text(self.claims.kid, self.claims.typ, self.claims.jti)}


@dataclass(frozen=True, slots=True)
class PaymentCode:
    """A wallet's customer-presented code. `code` is for the payment adapter only: not in repr, events or logs,
    and never to be written to the database."""

    kind: ClassVar[str] = "payment"
    rule: str
    masked: str
    code: str = field(repr=False, compare=False)

    def event_fields(self) -> EventFields:
        return {"kind": self.kind, "gtin": None, "outcome": "accepted", "reason": None, "text": self.masked}


@dataclass(frozen=True, slots=True)
class Unknown:
    """Well-formed data that is none of ours (a URL, a refund receipt, an unconfigured number)."""

    kind: ClassVar[str] = "unknown"
    reason: str
    text: str = ""

    def event_fields(self) -> EventFields:
        return {"kind": self.kind, "gtin": None, "outcome": "unknown", "reason": self.reason,
                "text": safe_text(self.text)}


@dataclass(frozen=True, slots=True)
class Invalid:
    """Data that claims to be something and fails its checks; `reason` names the check. `text` is already safe."""

    kind: ClassVar[str] = "invalid"
    reason: str
    text: str = ""
    claimed: str | None = None        # what it looked like: "gtin", "token", "rcn", "gs1" ...

    def event_fields(self) -> EventFields:
        return {"kind": self.kind, "gtin": None, "outcome": "rejected", "reason": self.reason,
                "text": safe_text(self.text)}


Meaning = Product | Member | Coupon | PickupOrder | StaffCode | PaymentCode | Unknown | Invalid
