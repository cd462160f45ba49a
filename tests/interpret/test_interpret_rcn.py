"""Restricted circulation numbers read by templates, with the GS1 4/5-digit price check digit."""

from __future__ import annotations

import pytest
from biip.checksums import gs1_price_weight_check_digit

from agent.interpret.gtin import check_digit
from agent.interpret.rcn import BUILTIN, RcnError, RcnTemplate, RcnValue, parse, template_problem, templates_for


def ean(body12: str) -> str:
    return body12 + str(check_digit(body12))


def with_q(prefix_item: str, value: str, tail: str = "") -> str:
    """prefix+item, the price check digit over `value`, then `value`, then the GTIN check digit."""
    return ean(prefix_item + str(gs1_price_weight_check_digit(value)) + value + tail)


@pytest.mark.parametrize(("value", "digit"), [("2875", 9), ("14685", 6)])
def test_price_check_digit_matches_genspec_examples(value: str, digit: int) -> None:
    # GS1 General Specifications 7.9.3 (four-digit) and 7.9.4 (five-digit) worked examples.
    assert gs1_price_weight_check_digit(value) == digit


def test_japanese_nonplu_02_reads_item_and_yen_price() -> None:
    result = parse(ean("021234500198"), BUILTIN["jp"])
    assert result == RcnValue(template="jp-nonplu-5", item_code="12345", lookup_gtin14="0" + ean("021234500000"),
                              measure="price", value=198)


def test_japanese_four_digit_price_with_valid_check_digit() -> None:
    result = parse(with_q("2512345", "2875"), BUILTIN["jp"])
    assert isinstance(result, RcnValue) and result.value == 2875 and result.item_code == "12345"


def test_wrong_price_check_digit_is_refused() -> None:
    good = with_q("2512345", "2875")
    bad_q = good[:7] + str((int(good[7]) + 1) % 10) + good[8:12]
    assert parse(ean(bad_q), BUILTIN["jp"]) is RcnError.BAD_PRICE_CHECK


def test_lookup_key_zeroes_value_and_recomputes_price_check() -> None:
    result = parse(with_q("281234", "01250"), BUILTIN["gs1"])
    assert isinstance(result, RcnValue)
    assert result.lookup_gtin14 == "0" + with_q("281234", "00000")
    assert (result.measure, result.value) == ("weight", 1250)


def test_count_template_reads_pieces() -> None:
    result = parse(with_q("251234", "00012"), BUILTIN["gs1"])
    assert isinstance(result, RcnValue) and (result.measure, result.value) == ("count", 12)


def test_plu_template_has_no_value_and_keeps_the_code_as_key() -> None:
    code = ean("201234567890")
    result = parse(code, BUILTIN["jp"])
    assert isinstance(result, RcnValue) and result.value is None and result.lookup_gtin14 == "0" + code


def test_prefix_without_template_is_reported() -> None:
    assert parse(ean("291234567890"), BUILTIN["se"]) is RcnError.NO_TEMPLATE


def test_custom_template_overrides_the_builtin_prefix_and_scales() -> None:
    deli = RcnTemplate("deli", ("02",), "PPIIIIIXVVVVC", "weight", scale=10)
    result = parse(ean("021234590125"), templates_for("jp", (deli,)))
    assert isinstance(result, RcnValue) and result.template == "deli" and result.value == 1250


@pytest.mark.parametrize(("template", "problem"), [
    (RcnTemplate("a", ("21",), "PPIIIIIQVVVV", "price"), "13 letters"),
    (RcnTemplate("a", ("21",), "PPIIIVIQVVVVC", "price"), "next to each other"),
    (RcnTemplate("a", ("21",), "PPIIIQVVVVVVC", "price"), "4 or 5"),
    (RcnTemplate("a", ("21",), "PPIIIIIIIIIIC", "price"), "measure is not"),
    (RcnTemplate("a", ("45",), "PPIIIIIVVVVVC", "price"), "restricted circulation"),
    (RcnTemplate("a", ("21",), "PPIIIIIVVVVVC", "volume"), "measure"),
])
def test_bad_templates_are_explained(template: RcnTemplate, problem: str) -> None:
    assert problem in (template_problem(template) or "")


def test_builtin_templates_are_all_valid() -> None:
    for templates in BUILTIN.values():
        for template in templates.values():
            assert template_problem(template) is None, template
