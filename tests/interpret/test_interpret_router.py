"""The router: one meaning per scan, rules checked in order, payment codes masked, and no exception ever."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.interpret.gtin import check_digit
from agent.interpret.meanings import Coupon, Invalid, Member, PaymentCode, Product, Unknown
from agent.interpret.rcn import templates_for
from agent.interpret.router import interpret, interpret_event, replay_rejected
from agent.interpret.rules import CodeRule, Rules
from agent.interpret.tokens import Claims
from drivers.base import ScanEvent

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
RULES = Rules()
MEANINGS = (Product, Member, Coupon, PaymentCode, Unknown, Invalid)


def ean(body: str) -> str:
    return body + str(check_digit(body))


def route(text: str, symbology: str = "ean13", rules: Rules = RULES) -> object:
    return interpret(symbology, text, text.encode(), rules, NOW)


@pytest.mark.parametrize(("symbology", "text", "kind", "gtin"), [
    ("ean13", "4901234567894", "product", "04901234567894"),
    ("ean8", "49123456", "product", "00000049123456"),
    ("upca", "036000291452", "product", "00036000291452"),
    ("upce", "01234565", "product", "00012345000065"),
    ("itf14", "15400141288763", "product", "15400141288763"),
    ("ean13", "9784101010014", "product", "09784101010014"),          # ISBN: a book is sold like any item
    ("ean13", ean("991234567890"), "coupon", "0" + ean("991234567890")),
    ("ean13", ean("980123456789"), "unknown", None),                   # refund receipt
    ("ean13", "4901234567890", "invalid", None),
    ("qr", "https://example.com/", "unknown", None),
    ("qr", "hello", "unknown", None),
    ("code128", "", "invalid", None),
    ("ean13", "12345678901", "unknown", None),
])
def test_routing_table(symbology: str, text: str, kind: str, gtin: str | None) -> None:
    fields = route(text, symbology).event_fields()  # type: ignore[attr-defined]
    assert (fields["kind"], fields["gtin"]) == (kind, gtin)


def test_isbn_is_marked_as_such() -> None:
    meaning = route("9784101010014")
    assert isinstance(meaning, Product) and meaning.prefix == "isbn"


def test_weighed_item_carries_its_embedded_price() -> None:
    meaning = route(ean("021234500198"))        # jp built-in: 02 + item 12345 + 198 yen
    assert isinstance(meaning, Product)
    assert (meaning.source, meaning.rcn_item, meaning.price_minor, meaning.gtin14) == (
        "rcn", "12345", 198, "0" + ean("021234500000"))


def test_upca_number_system_2_reads_like_ean13_prefix_02() -> None:
    code = ean("021234500198")
    upca, ean13 = route(code[1:], "upca"), route(code)
    assert isinstance(upca, Product) and isinstance(ean13, Product)
    assert (upca.gtin14, upca.price_minor, upca.rcn_item) == (ean13.gtin14, ean13.price_minor, ean13.rcn_item)


def test_bad_embedded_price_check_is_invalid() -> None:
    # jp built-in, prefixes 25-29: PP IIIII Q VVVV C; the price check digit of "0000" is 0, not 1.
    assert isinstance(route(ean("251234500000")), Product)
    result = route(ean("251234510000"))
    assert isinstance(result, Invalid) and result.reason == "rcn_bad_price_check"


def test_restricted_prefix_without_template_is_looked_up_as_is() -> None:
    code = ean("291234567890")
    meaning = route(code, rules=Rules(rcn=templates_for("none")))
    assert isinstance(meaning, Product) and meaning.gtin14 == "0" + code and meaning.prefix == "restricted"


def test_legacy_member_card_rule_wins_over_restricted_gtin() -> None:
    card = ean("290000012345")
    rules = Rules(member_cards=(CodeRule("old-card", ("29",), (13,), "gs1"),))
    meaning = route(card, rules=rules)
    assert isinstance(meaning, Member) and meaning.card_number == card and meaning.member_id is None
    assert card not in repr(meaning) and meaning.event_fields()["text"] == "*********" + card[-4:]


def test_card_rule_with_failed_check_falls_through() -> None:
    rules = Rules(member_cards=(CodeRule("luhn-card", ("6",), (16,), "luhn"),))
    assert isinstance(route("6011111111111117", "code128", rules), Member)      # Luhn-valid
    assert not isinstance(route("6011111111111118", "code128", rules), Member)


def test_payment_code_is_never_shown_in_full() -> None:
    code = "281234567890123456"
    meaning = route(code, "qr")
    assert isinstance(meaning, PaymentCode) and meaning.code == code and meaning.rule == "alipay"
    shown = repr(meaning) + str(meaning) + json.dumps(meaning.event_fields())
    assert code not in shown and "3456" in shown


def test_unrecognised_long_number_is_masked_in_events() -> None:
    number = "9" * 20
    meaning = route(number, "qr")
    assert isinstance(meaning, Unknown) and number not in json.dumps(meaning.event_fields())


def test_gs_kept_in_data_is_used_when_text_lost_it() -> None:
    raw = b"0109506000134352" + b"10AB\x1d" + b"21X"
    meaning = interpret("gs1-128", "010950600013435210AB21X", raw, RULES, NOW)
    assert isinstance(meaning, Product) and (meaning.batch, meaning.serial) == ("AB", "X")


def test_scan_event_goes_through_unchanged() -> None:
    event = ScanEvent(device="handheld", symbology="ean13", data=b"4901234567894", text="4901234567894",
                      raw=b"]E04901234567894\r", received_at=0.0, monotonic=0.0, aim="]E0")
    assert interpret_event(event, RULES, NOW) == route("4901234567894")


def test_replayed_token_becomes_an_invalid_without_signature() -> None:
    claims = Claims(kid="k", typ="coupon", sub="M", exp=1, iat=0, jti="j-9", cid="C")
    meaning = replay_rejected(Coupon(coupon_id="C", member_id="M", claims=claims))
    assert meaning.event_fields() == {"kind": "invalid", "gtin": None, "outcome": "rejected",
                                      "reason": "replayed", "text": "jws kid=k typ=coupon jti=j-9"}


def test_a_bug_inside_becomes_internal_error_not_an_exception(caplog: pytest.LogCaptureFixture) -> None:
    broken = Rules(rcn=None)  # type: ignore[arg-type]
    code = ean("021234500198")
    meaning = route(code, rules=broken)
    assert isinstance(meaning, Invalid) and meaning.reason == "internal_error"
    assert "interpretation failed" in caplog.text and code not in caplog.text


symbologies = st.sampled_from(["ean13", "ean8", "upca", "upce", "code128", "gs1-128", "databar", "qr", "", "x"])


@settings(max_examples=400, deadline=None)
@given(symbologies, st.binary(max_size=80))
def test_router_never_raises_on_any_bytes(symbology: str, data: bytes) -> None:
    meaning = interpret(symbology, data.decode("utf-8", "replace"), data, RULES, NOW)
    assert meaning.kind != "" and isinstance(json.dumps(meaning.event_fields()), str)
    assert not (isinstance(meaning, Invalid) and meaning.reason == "internal_error")


@settings(max_examples=300, deadline=None)
@given(symbologies, st.text(alphabet="0123456789()\x1d~^]|<>GS", max_size=60))
def test_router_never_raises_on_gs1_like_text(symbology: str, text: str) -> None:
    meaning = interpret(symbology, text, text.encode(), RULES, NOW)
    assert not (isinstance(meaning, Invalid) and meaning.reason == "internal_error")
