"""GS1 element strings and Digital Link URIs: separators, AIs the sale needs, and what wedges do to GS."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from agent.interpret.gs1 import DEFAULT_SUBSTITUTES, Gs1Data, Gs1Error, clean, parse_digital_link, parse_element_strings
from agent.interpret.meanings import Invalid, Product, Unknown
from agent.interpret.router import interpret
from agent.interpret.rules import Rules

GS = "\x1d"
GTIN = "09506000134352"      # GS1's own example GTIN (GenSpec, Digital Link standard)


def data(text: str) -> Gs1Data:
    result = parse_element_strings(text)
    assert isinstance(result, Gs1Data), result
    return result


@pytest.mark.parametrize("text", [
    f"01{GTIN}17201225" + "10ABC123" + GS + "21XYZ",                 # raw, FNC1 as GS
    f"]C101{GTIN}17201225" + "10ABC123" + GS + "21XYZ",              # AIM identifier left in by the scanner
    f"{GS}01{GTIN}17201225" + "10ABC123" + GS + "21XYZ",             # FNC1 in first position sent as GS
    f"01{GTIN}1720122510ABC123~21XYZ",                               # scanner set to replace GS with ~
    f"01{GTIN}1720122510ABC123^]21XYZ",                              # US wedge typing Ctrl+] as ^]
    f"01{GTIN}1720122510ABC123<GS>21XYZ",                            # "transmit control characters" mode
    f"01{GTIN}1720122510ABC123\u241d21XYZ",                          # the printable GS symbol
    f"01{GTIN}1720122510ABC123\x1b21XYZ",                            # Ctrl+] typed into a JIS layout: ESC
    f"(01){GTIN}(17)201225(10)ABC123(21)XYZ",                        # human-readable form
])
def test_same_message_however_the_separator_arrives(text: str) -> None:
    result = data(text)
    assert (result.gtin14, result.expiry, result.batch, result.serial) == (GTIN, date(2020, 12, 25), "ABC123", "XYZ")


def test_clean_strips_aim_and_leading_fnc1() -> None:
    assert clean(f"]d2{GS}01{GTIN}") == f"01{GTIN}"


def test_expiry_swallowed_by_lot_without_separator_is_recovered() -> None:
    result = data(f"01{GTIN}10ABC12317201225")
    assert (result.batch, result.expiry, result.separator_repaired) == ("ABC123", date(2020, 12, 25), True)


def test_lot_is_left_alone_when_the_message_has_separators() -> None:
    result = data(f"01{GTIN}10ABC17201225{GS}21X")
    assert (result.batch, result.expiry, result.separator_repaired) == ("ABC17201225", None, False)


@pytest.mark.parametrize(("element", "field", "value"), [
    ("3103001250", "net_weight_g", 1250),          # 1.250 kg
    ("3102001250", "net_weight_g", 12500),         # 12.50 kg
    ("3104001235", "net_weight_g", Decimal("123.5")),          # 0.1235 kg: exact, not rounded to a gram
    ("3202000100", "net_weight_g", Decimal("453.59237")),      # 1.00 lb, exactly (the pound is 453.59237 g)
    ("15201200", "best_before", date(2020, 12, 31)),   # day 00 = last day of the month (GenSpec 7.12)
    ("11200101", "production", date(2020, 1, 1)),
    ("13200102", "packaging", date(2020, 1, 2)),
    ("80082012251430", "production", date(2020, 12, 25)),
    ("3012", "count", 12),
    ("3922" + "1234", "price", Decimal("12.34")),
])
def test_sale_relevant_ais(element: str, field: str, value: object) -> None:
    assert getattr(data(f"01{GTIN}{element}"), field) == value


def test_amount_with_iso_currency() -> None:
    result = data(f"01{GTIN}3932978" + "1234")
    assert (result.price, result.price_currency) == (Decimal("12.34"), "978")


def test_sscc_and_contained_gtin() -> None:
    result = data("00006141411234567890" + f"02{GTIN}" + "378")
    assert (result.sscc, result.gtin14) == ("006141411234567890", GTIN)


@pytest.mark.parametrize(("text", "error"), [
    ("0109506000134353", Gs1Error.BAD_GTIN),
    (f"01{GTIN}17201332", Gs1Error.MALFORMED),
    ("99", Gs1Error.MALFORMED),
    ("30", Gs1Error.MALFORMED),                  # AI with no value (found by bench/fuzz_interpret.py)
    (f"01{GTIN}3932978", Gs1Error.MALFORMED),    # currency without an amount
    (f"01{GTIN[:10]}", Gs1Error.MALFORMED),
])
def test_broken_element_strings(text: str, error: Gs1Error) -> None:
    assert parse_element_strings(text) is error


@pytest.mark.parametrize("uri", [
    f"https://id.gs1.org/01/{GTIN}/10/ABC%2F1?17=201225",
    f"https://brand.example.com/products/01/{GTIN}/10/ABC%2F1?17=201225&utm_source=pack",
    f"HTTP://brand.example.com/01/{GTIN}/10/ABC%2F1?17=201225",
])
def test_digital_link_on_gs1_and_brand_domains(uri: str) -> None:
    result = parse_digital_link(uri)
    assert isinstance(result, Gs1Data)
    assert (result.gtin14, result.batch, result.expiry) == (GTIN, "ABC/1", date(2020, 12, 25))


def test_url_without_primary_key_is_not_a_digital_link() -> None:
    assert parse_digital_link("https://example.com/shop?id=1") is Gs1Error.NOT_DIGITAL_LINK


NOW = datetime(2020, 12, 25, 10, 0, tzinfo=UTC)


def route(text: str, rules: Rules | None = None, symbology: str = "gs1-128") -> object:
    return interpret(symbology, text, text.encode(), rules or Rules(), NOW)


def test_expired_item_is_blocked_for_an_attendant() -> None:
    meaning = route(f"01{GTIN}17201224")
    assert isinstance(meaning, Product) and meaning.blocked == "expired"
    assert meaning.event_fields()["outcome"] == "attendant"


def test_item_expiring_today_is_still_sold() -> None:
    meaning = route(f"01{GTIN}17201225")
    assert isinstance(meaning, Product) and meaning.blocked is None


def test_blocking_can_be_turned_off() -> None:
    meaning = route(f"01{GTIN}17201224", Rules(block_expired=False))
    assert isinstance(meaning, Product) and meaning.blocked is None and meaning.expiry == date(2020, 12, 24)


@pytest.mark.parametrize(("element", "currency", "minor"), [
    ("3920198", "JPY", 198), ("39221234", "EUR", 1234), ("39211234", "EUR", 12340), ("3932978" + "1234", "EUR", 1234),
])
def test_embedded_amount_becomes_minor_units(element: str, currency: str, minor: int) -> None:
    meaning = route(f"01{GTIN}{element}", Rules(currency=currency))
    assert isinstance(meaning, Product) and meaning.price_minor == minor


def test_amount_in_another_currency_is_refused() -> None:
    meaning = route(f"01{GTIN}3932978" + "1234", Rules(currency="JPY"))
    assert isinstance(meaning, Invalid) and meaning.reason == "gs1_foreign_currency"


def test_fractional_yen_is_refused() -> None:
    meaning = route(f"01{GTIN}39221234", Rules(currency="JPY"))
    assert isinstance(meaning, Invalid) and meaning.reason == "gs1_bad_price"


def test_gs1_message_without_aim_from_a_plain_code128_scanner() -> None:
    meaning = route(f"01{GTIN}10LOT7", symbology="code128")
    assert isinstance(meaning, Product) and meaning.batch == "LOT7"


def test_sscc_alone_is_not_for_sale() -> None:
    meaning = route("00006141411234567890")
    assert isinstance(meaning, Unknown) and meaning.reason == "gs1_without_gtin"


@pytest.mark.parametrize(("hri", "expected"), [
    # Examples used throughout the GS1 General Specifications and the GS1 DataMatrix Guideline.
    ("(01)95012345678903(3103)000123", {"gtin14": "95012345678903", "net_weight_g": 123}),
    ("(01)09501101530003(17)140704(10)AB-123", {"gtin14": "09501101530003", "expiry": date(2014, 7, 4),
                                                "batch": "AB-123"}),
    ("(00)106141411234567897", {"sscc": "106141411234567897"}),
])
def test_general_specification_examples(hri: str, expected: dict[str, object]) -> None:
    result = data(hri)
    assert {key: getattr(result, key) for key in expected} == expected


def test_example_config_documents_the_default_substitutes() -> None:
    example = tomllib.loads((Path(__file__).resolve().parents[2] / "config" / "agent.example.toml").read_text())
    assert tuple(example["interpret"]["gs_substitutes"]) == DEFAULT_SUBSTITUTES
