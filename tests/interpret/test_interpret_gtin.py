"""GTIN check digits, UPC-E expansion, GTIN-14 normalisation and prefix classes (GS1 GenSpec 7.9, 5.2, 1.4)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.interpret.gtin import (
    GtinError,
    PrefixKind,
    check_digit,
    expand_upce,
    is_valid,
    normalize,
    prefix_kind,
    shortest,
)


@pytest.mark.parametrize(("body", "digit"), [
    ("629104150021", 3),        # GenSpec 7.9.1 worked example (GTIN-13 6291041500213)
    ("9638507", 4),             # EAN-8 96385074
    ("03600029145", 2),         # UPC-A 036000291452
    ("1061414100041", 5),       # GTIN-14 with indicator 1, GS1 US example 10614141000415
    ("1540014128876", 3),       # ITF-14 15400141288763
    ("000000000000", 0),
])
def test_check_digit_matches_published_examples(body: str, digit: int) -> None:
    assert check_digit(body) == digit


@pytest.mark.parametrize(("text", "symbology", "gtin14"), [
    ("6291041500213", "ean13", "06291041500213"),
    ("96385074", "ean8", "00000096385074"),
    ("036000291452", "upca", "00036000291452"),
    ("15400141288763", "itf14", "15400141288763"),
    ("01234565", "upce", "00012345000065"),     # UPC-E -> 012345000065
    ("04252614", "upce", "00042100005264"),     # last digit 4 rule -> 042100005264
    ("123455", "upce", "00012345000058"),       # six digits: number system 0, check computed
    ("0012345000065", "upce", "00012345000065"),    # already expanded by the decoder (zbar, zxing-cpp)
])
def test_normalize_to_gtin14(text: str, symbology: str, gtin14: str) -> None:
    assert normalize(text, symbology) == gtin14


@pytest.mark.parametrize(("text", "symbology", "error"), [
    ("6291041500214", "ean13", GtinError.BAD_CHECK_DIGIT),
    ("62910415002", "ean13", GtinError.BAD_LENGTH),
    ("629104150021X", "ean13", GtinError.NOT_DIGITS),
    ("６２９１０４１５００２１３", "ean13", GtinError.NOT_DIGITS),   # full-width digits are not ASCII
    ("01234566", "upce", GtinError.BAD_CHECK_DIGIT),
    ("21234565", "upce", GtinError.BAD_UPCE),          # UPC-E number system is 0 or 1
])
def test_normalize_refuses_with_reason(text: str, symbology: str, error: GtinError) -> None:
    assert normalize(text, symbology) is error


# Expected values cross-checked against biip.upc.Upc.as_upc_a().
@pytest.mark.parametrize(("upce", "upca"), [
    ("0123450", "012000003455"), ("0123451", "012100003454"), ("0123452", "012200003453"),
    ("0123453", "012300000451"), ("0123454", "012340000053"), ("0123455", "012345000058"),
    ("0123459", "012345000096"),
])
def test_upce_expansion_rules_by_last_digit(upce: str, upca: str) -> None:
    assert expand_upce(upce) == upca


@pytest.mark.parametrize(("gtin13", "kind"), [
    ("4901234567894", PrefixKind.PRODUCT),
    ("2012345000001", PrefixKind.RESTRICTED),
    ("0212345000007", PrefixKind.RESTRICTED),
    ("0412345000001", PrefixKind.COMPANY_INTERNAL),
    ("9781234567897", PrefixKind.ISBN),
    ("9771234567003", PrefixKind.ISSN),
    ("9801234567892", PrefixKind.REFUND_RECEIPT),
    ("9912345678909", PrefixKind.COUPON),
    ("9821234567890", PrefixKind.COUPON),
    ("0512345678900", PrefixKind.COUPON),
    ("9521234567899", PrefixKind.DEMO),
    ("9506000134352", PrefixKind.PRODUCT),     # 950: GS1 Global Office, used in GS1's own examples
])
def test_prefix_classes(gtin13: str, kind: PrefixKind) -> None:
    assert prefix_kind("0" + gtin13) is kind


def test_ean8_with_leading_zero_or_two_is_company_internal() -> None:
    assert prefix_kind("00000020000007") is PrefixKind.COMPANY_INTERNAL
    assert prefix_kind("00000096385074") is PrefixKind.PRODUCT


def _with_check(body: str) -> str:
    return body + str(check_digit(body))


gtins = st.sampled_from([7, 11, 12, 13]).flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n)).map(
    _with_check)


@given(gtins)
def test_valid_gtins_survive_normalisation_round_trip(code: str) -> None:
    gtin14 = normalize(code)
    assert isinstance(gtin14, str) and len(gtin14) == 14 and is_valid(gtin14)
    assert normalize(gtin14) == gtin14
    assert normalize(shortest(gtin14)) == gtin14


@given(gtins, st.data())
def test_any_single_digit_change_is_caught(code: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(code) - 1))
    replacement = data.draw(st.sampled_from([d for d in "0123456789" if d != code[position]]))
    changed = code[:position] + replacement + code[position + 1:]
    assert normalize(changed) is GtinError.BAD_CHECK_DIGIT
