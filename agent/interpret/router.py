"""The one router from a scan to exactly one meaning: pure, no I/O, and never an exception on any input.

Order of questions, most specific first: an app token (JWS shape)? a URL (GS1 Digital Link)? a GS1 element
string (by symbology, AIM identifier or a GS separator)? a configured legacy card or wallet code (these rules
are checked before GTINs because stores print member cards in the 2x restricted range)? a GTIN, and if its
prefix is restricted, an RCN? Anything left is Unknown; anything that fails its own check is Invalid.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from agent.interpret import gs1, gtin, rcn, tokens
from agent.interpret.meanings import (
    Coupon,
    Invalid,
    Meaning,
    Member,
    PaymentCode,
    PickupOrder,
    Product,
    StaffCode,
    Unknown,
    mask,
    safe_text,
    token_text,
)
from agent.interpret.rules import CodeRule, Rules

logger = logging.getLogger(__name__)

GS1_SYMBOLOGIES = frozenset({"gs1-128", "databar", "databar-expanded", "databar-limited", "gs1-datamatrix",
                             "gs1-qr"})
GS1_AIM = ("]C1", "]e0", "]e1", "]e2", "]d2", "]Q3", "]J1")
MAX_TEXT = 4096


class ScanLike(Protocol):
    """What the router needs from a drivers.base.ScanEvent (kept structural: agent does not import drivers)."""

    @property
    def symbology(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def data(self) -> bytes: ...
    @property
    def aim(self) -> str | None: ...


def interpret_event(event: ScanLike, rules: Rules, now: datetime, *, clock_synced: bool = True) -> Meaning:
    """`interpret` for a ScanEvent."""
    return interpret(event.symbology, event.text, event.data, rules, now, aim=event.aim, clock_synced=clock_synced)


def interpret(symbology: str, text: str, data: bytes, rules: Rules, now: datetime, *, aim: str | None = None,
              clock_synced: bool = True) -> Meaning:
    """Classify, validate and parse one scan. `now` is an aware datetime in the store's time zone: its date is
    the day an expiry is compared with, its timestamp the time a token's `exp` is compared with."""
    try:
        return _route(symbology or "", _source(text, data), rules, now, aim, clock_synced)
    except Exception as exc:   # a bug, not bad input: keep the lane scanning
        _log_bug(exc, symbology, text)
        return Invalid("internal_error")


def _log_bug(exc: Exception, symbology: str, text: str) -> None:
    """Where it failed, without the message or the text: either could hold a payment code or a token."""
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    where = f"{frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}" if frame else "?"
    logger.error("interpretation failed (a bug) symbology=%s length=%d error=%s at=%s", symbology,
                 len(text) if isinstance(text, str) else -1, type(exc).__name__, where)


def _source(text: str, data: bytes) -> str:
    """The scanned characters; `data` wins when it kept a GS (0x1D) that the text lost."""
    if isinstance(data, bytes) and b"\x1d" in data and "\x1d" not in (text or ""):
        return data.decode("latin-1")
    return text if isinstance(text, str) else ""


def _route(symbology: str, raw: str, rules: Rules, now: datetime, aim: str | None, synced: bool) -> Meaning:
    text = raw.strip(" \r\n\t\x00")
    if not text:
        return Invalid("empty")
    if len(text) > MAX_TEXT:
        return Invalid("too_long", text[:32])
    if text.startswith("eyJ"):
        return _token(text, rules, now, synced)
    if text[:8].lower().startswith(("https://", "http://")):
        return _digital_link(text, rules, now)
    if symbology in GS1_SYMBOLOGIES or (aim or "") in GS1_AIM or text.startswith(GS1_AIM) or "\x1d" in text:
        return _element_string(text, rules, now)
    if text.isascii() and text.isdigit():
        return _number(symbology, text, rules, now)
    if text.startswith("(") or _gtin_first(text) or any(t in text for t in rules.gs_substitutes if len(t) > 1):
        return _element_string(text, rules, now)
    return Unknown("unrecognised", text)


def _number(symbology: str, text: str, rules: Rules, now: datetime) -> Meaning:
    card = _match(rules.member_cards, text)
    if card is not None:
        return Member(card_number=text, card_rule=card.name)
    wallet = _match(rules.payment_codes, text)
    if wallet is not None:
        return PaymentCode(rule=wallet.name, masked=mask(text), code=text)
    if len(text) in (6, 7, 8, 12, 13, 14):
        return _gtin(symbology, text, rules)
    if len(text) >= 16 and text[:2] in ("01", "02", "00"):
        return _element_string(text, rules, now)
    return Unknown("unrecognised_number", text)


def _gtin_first(text: str) -> bool:
    """AI 01/02 and 14 digits up front: a GS1 message from a scanner not set to send AIM identifiers."""
    return len(text) > 16 and text[:2] in ("01", "02") and text[2:16].isdigit()


def _match(rules: tuple[CodeRule, ...], text: str) -> CodeRule | None:
    for rule in rules:
        if len(text) in rule.lengths and text.startswith(rule.prefixes) and _checked(rule.check, text):
            return rule
    return None


def _checked(check: str, text: str) -> bool:
    if check == "gs1":
        return gtin.check_digit(text[:-1]) == int(text[-1])
    if check == "luhn":
        total = 0
        for index, char in enumerate(reversed(text)):
            digit = int(char) * (2 if index % 2 else 1)
            total += digit - 9 if digit > 9 else digit
        return total % 10 == 0
    return True


def _gtin(symbology: str, text: str, rules: Rules) -> Meaning:
    code = gtin.normalize(text, symbology)
    if isinstance(code, gtin.GtinError):
        return Invalid(code.value, text, claimed="gtin")
    source = gtin.source_format(text, symbology)
    kind = gtin.prefix_kind(code)
    if kind is gtin.PrefixKind.RESTRICTED and code[0] == "0":
        return _rcn(code, text, source, rules)
    if kind is gtin.PrefixKind.COUPON:
        return Coupon(coupon_id=code, barcode=code)
    if kind is gtin.PrefixKind.REFUND_RECEIPT:
        return Unknown("refund_receipt", text)
    return Product(gtin14=code, source=source, prefix=kind.value, text=text)


def _rcn(code: str, text: str, source: str, rules: Rules) -> Meaning:
    value = rcn.parse(code[1:], rules.rcn)
    if value is rcn.RcnError.NO_TEMPLATE:
        return Product(gtin14=code, source=source, prefix="restricted", text=text)
    if isinstance(value, rcn.RcnError):
        return Invalid(value.value, text, claimed="rcn")
    measure = {value.measure: value.value}
    return Product(gtin14=value.lookup_gtin14, source="rcn", prefix="restricted", price_minor=measure.get("price"),
                   weight_g=_decimal(measure.get("weight")), count=measure.get("count"), rcn_item=value.item_code,
                   text=text)


def _decimal(value: int | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _element_string(text: str, rules: Rules, now: datetime) -> Meaning:
    data = gs1.parse_element_strings(text, rules.gs_substitutes)
    return _gs1_product(data, "gs1", text, rules, now)


def _digital_link(text: str, rules: Rules, now: datetime) -> Meaning:
    data = gs1.parse_digital_link(text)
    if data is gs1.Gs1Error.NOT_DIGITAL_LINK:
        return Unknown("url_not_gs1_digital_link", text)
    return _gs1_product(data, "digital_link", text, rules, now)


def _gs1_product(data: gs1.Gs1Data | gs1.Gs1Error, source: str, text: str, rules: Rules, now: datetime) -> Meaning:
    if isinstance(data, gs1.Gs1Error):
        return Invalid(data.value, text, claimed="gs1")
    if data.gtin14 is None:
        return Unknown("gs1_without_gtin", text)
    price = _minor_units(data, rules)
    if isinstance(price, str):
        return Invalid(price, text, claimed="gs1")
    blocked = "expired" if rules.block_expired and gs1.expired(data, now.date()) else None
    return Product(gtin14=data.gtin14, source=source, prefix=gtin.prefix_kind(data.gtin14).value,
                   price_minor=price, weight_g=data.net_weight_g, count=data.count, expiry=data.expiry,
                   best_before=data.best_before, batch=data.batch, serial=data.serial, blocked=blocked, text=text)


def _minor_units(data: gs1.Gs1Data, rules: Rules) -> int | None | str:
    """AI 392x/393x amount in the lane currency's minor units, or the reason it cannot be used."""
    if data.price is None:
        return None
    if data.price_currency is not None and data.price_currency != rules.currency_numeric:
        return "gs1_foreign_currency"
    minor = data.price.scaleb(rules.currency_exponent)
    if minor != minor.to_integral_value() or minor < Decimal(0):
        return "gs1_bad_price"
    return int(minor)


def _token(text: str, rules: Rules, now: datetime, synced: bool) -> Meaning:
    policy = tokens.TimePolicy(now=now.astimezone(UTC).timestamp(), skew_s=rules.skew_s, clock_synced=synced,
                               unsynced_skew_s=rules.unsynced_skew_s)
    result = tokens.verify(text, rules.keys, policy, rules.token_types)
    if isinstance(result, tokens.TokenRejected):
        shown = token_text(result.kid, result.typ, result.jti) if result.kid else f"jws ({len(text)} chars)"
        return Invalid(result.reason.value, shown, claimed="token")
    if result.typ == "member":
        return Member(member_id=result.sub, claims=result)
    if result.typ == "coupon":
        return Coupon(coupon_id=result.cid or "", member_id=result.sub, claims=result)
    if result.typ == "order":
        return PickupOrder(order_id=result.oid or "", member_id=result.sub, claims=result)
    return StaffCode(staff_id=result.sub, claims=result)


def replay_rejected(meaning: Meaning) -> Invalid:
    """The meaning to publish when agent.session.records.seen_tokens.claim refused a verified token as already used."""
    claims = getattr(meaning, "claims", None)
    shown = token_text(claims.kid, claims.typ, claims.jti) if claims else safe_text(meaning.kind)
    return Invalid(tokens.Rejection.REPLAYED.value, shown, claimed="token")
