"""The typed catalog schema: what a line may hold, refused at import and in deltas with the line, field and fix.

Each refusal is checked three ways where it matters: the pure line parser, a real import into SQLite files
(`load_snapshot`, all or nothing), and an MQTT delta (`parse_delta`). A refused import leaves the catalog as it was.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.catalog.db import CatalogDb
from agent.catalog.delta import parse_delta
from agent.catalog.fields import CatalogLineError
from agent.catalog.lines import Record, parse_line
from agent.catalog.load import load_snapshot
from agent.cli import main
from agent.session.rules.scan_rules import GRAMS_PER_UNIT
from simulators.cloud.catalog_data import delta_payload, gtin_for, write_lines

TEA = gtin_for(1)
PRODUCT: dict[str, Any] = {"gtin": TEA, "name": "Green tea", "price": 150, "tax_rate": "0.08", "version": 1}
COUPON: dict[str, Any] = {"kind": "coupon", "id": "C-1", "amount": 500, "version": 1}


def refusal(line: dict[str, Any], number: int = 7) -> CatalogLineError:
    with pytest.raises(CatalogLineError) as caught:
        parse_line(json.dumps(line).encode(), number)
    assert caught.value.line == number
    return caught.value


def import_refused(catalog: CatalogDb, tmp_path: Path, bad: dict[str, Any]) -> CatalogLineError:
    """Import a good catalog, then one whose third line is `bad`; the refusal names line 3, nothing changes."""
    load_snapshot(catalog, write_lines(tmp_path / "good.jsonl", [PRODUCT], version=1))
    lines = [{**PRODUCT, "version": 2}, {**PRODUCT, "gtin": gtin_for(2), "version": 2}, {"version": 2, **bad}]
    with pytest.raises(CatalogLineError) as caught:
        load_snapshot(catalog, write_lines(tmp_path / "bad.jsonl", lines, version=2))
    assert caught.value.line == 3
    assert catalog.status().version == 1 and catalog.product(gtin_for(2)) is None
    return caught.value


# --- coupon conditions are typed (the review's defect 9) ---

@pytest.mark.parametrize(("conditions", "field", "fix"), [
    ({"min_spend": 5000.0}, "conditions.min_spend", "5000"),
    ({"min_spend": "5000"}, "conditions.min_spend", "without quotes"),
    ({"member_only": "false"}, "conditions.member_only", "false"),
    ({"gtins": TEA}, "conditions.gtins", "list"),
    ({"gtins": [TEA, 4901234567894]}, "conditions.gtins[1]", "string"),
    ({"gtins": ["4901234567890"]}, "conditions.gtins[0]", "last digit should be 4"),
    ({"departments": "food"}, "conditions.departments", "list"),
    ({"min_spnd": 5000}, "conditions.min_spnd", "min_spend"),
])
def test_coupon_conditions_of_the_wrong_type_are_refused_at_import(
        catalog_db: CatalogDb, tmp_path: Path, conditions: dict[str, Any], field: str, fix: str) -> None:
    error = import_refused(catalog_db, tmp_path, {**COUPON, "conditions": conditions})
    message = str(error)
    assert message.startswith(f"line 3: {field}") and "Fix:" in message and fix in message.split("Fix:")[1]
    assert catalog_db.coupon("C-1") is None


def test_typed_conditions_load_as_their_types(catalog_db: CatalogDb, tmp_path: Path) -> None:
    conditions = {"min_spend": 5000, "member_only": False, "gtins": [TEA[1:]], "departments": ["food"]}
    load_snapshot(catalog_db, write_lines(tmp_path / "c.jsonl", [{**COUPON, "conditions": conditions}], version=1))
    coupon = catalog_db.coupon("C-1")
    assert coupon is not None
    assert coupon.conditions == {"min_spend": 5000, "member_only": False, "gtins": [TEA], "departments": ["food"]}


def test_a_delta_with_untyped_conditions_is_refused_whole() -> None:
    payload = delta_payload(1, 2, [{**PRODUCT, "version": 2}, {**COUPON, "conditions": {"min_spend": 5000.0}}])
    with pytest.raises(CatalogLineError, match=r"conditions\.min_spend") as caught:
        parse_delta(payload)
    assert caught.value.line == 3


# --- money is integers, fields are known ---

@pytest.mark.parametrize(("line", "field"), [
    ({**PRODUCT, "price": 150.0}, "price"),
    ({**PRODUCT, "price": "150"}, "price"),
    ({**PRODUCT, "member_price": 140.5}, "member_price"),
    ({**COUPON, "amount": 500.0}, "amount"),
    ({**COUPON, "max_uses": True}, "max_uses"),
    ({"kind": "price", "gtin": TEA, "price": 99.0, "from": "2026-12-01T00:00:00Z", "version": 1}, "price"),
    ({"kind": "promotion", "id": "P", "type": "bundle", "quantity": 2, "price": 300.0, "gtins": [TEA],
      "version": 1}, "price"),
    ({"kind": "member", "id": "M1", "tier": "gold", "points": "1200", "version": 1}, "points"),
])
def test_money_and_counts_must_be_integers(line: dict[str, Any], field: str) -> None:
    error = refusal(line)
    assert error.problem.startswith(f"{field}: ") and "Fix:" in error.problem


@pytest.mark.parametrize(("line", "field"), [
    ({**PRODUCT, "colour": "green"}, "colour"),
    ({**PRODUCT, "tax": "0.08"}, "tax"),
    ({**COUPON, "min_spend": 5000}, "min_spend"),
    ({"kind": "member", "id": "M1", "tier": "gold", "point": 5, "version": 1}, "point"),
    ({"kind": "order", "id": "O1", "status": "ready", "items": [{"gtin": TEA, "qty": 1, "price": 5}],
      "version": 1}, "items[0].price"),
    ({"kind": "promotion", "id": "P", "type": "percent", "percent": "0.1", "amount": 5, "gtins": [TEA],
      "version": 1}, "amount"),
    ({"kind": "trailer", "version": 1, "count": 0, "sha256": "a" * 64, "extra": 1}, "extra"),
    ({"kind": "policy", "key": "max_sale_totl", "value": 5, "version": 1}, "key"),
])
def test_unknown_fields_are_refused_naming_the_field(line: dict[str, Any], field: str) -> None:
    error = refusal(line)
    assert error.problem.startswith(f"{field}: ") and "Fix:" in error.problem


def test_an_unknown_field_refuses_the_import(catalog_db: CatalogDb, tmp_path: Path) -> None:
    error = import_refused(catalog_db, tmp_path, {**PRODUCT, "gtin": gtin_for(3), "colour": "green"})
    assert "colour" in str(error) and "Fix:" in str(error)


@pytest.mark.parametrize(("key", "value"), [
    ("member_prices", "false"), ("max_sale_total", 30000.0), ("max_coupon_value", -1),
    ("payment_kinds", "card"), ("payment_kinds", ["card", 5]),
    ("expiry_when_clock_untrusted", "ignore"), ("expiry_when_clock_untrusted", True),
    ("refuse_past_best_before", "true"),
])
def test_offline_policy_values_are_typed(key: str, value: object) -> None:
    error = refusal({"kind": "policy", "key": key, "value": value, "version": 1})
    assert error.problem.startswith("value: ") and key in error.problem and "Fix:" in error.problem


def test_every_offline_policy_key_with_its_type_is_accepted() -> None:
    for key, value in {"member_prices": False, "points_redemption": True, "single_use_coupons": False,
                       "payment_kinds": ["card"], "max_sale_total": 20000, "max_coupon_value": 500,
                       "expiry_when_clock_untrusted": "refuse", "refuse_past_best_before": True}.items():
        assert isinstance(parse_line(json.dumps({"kind": "policy", "key": key, "value": value,
                                                 "version": 1}).encode(), 1), Record)


# --- units: only what a lane can sell (the review's defect 13) ---

@pytest.mark.parametrize("unit", ["l", "100ml", "ml", "KG"])
def test_a_unit_the_lane_cannot_sell_is_refused_at_import(catalog_db: CatalogDb, tmp_path: Path, unit: str) -> None:
    error = import_refused(catalog_db, tmp_path, {**PRODUCT, "gtin": gtin_for(3), "unit": unit})
    assert str(error).startswith("line 3: unit: ") and "kg, 100g or g" in str(error) and "Fix:" in str(error)


def test_every_unit_the_catalog_accepts_can_be_sold() -> None:
    accepted = {unit for unit in ["kg", "100g", "g", "l", "100ml", "ml", "piece"]
                if isinstance(_parsed({**PRODUCT, "unit": unit}), Record)}
    assert accepted == set(GRAMS_PER_UNIT)


def _parsed(line: dict[str, Any]) -> object:
    try:
        return parse_line(json.dumps(line).encode(), 1)
    except CatalogLineError as exc:
        return exc


# --- deposit: refused, never silently dropped ---

def test_a_deposit_is_refused_because_the_lane_does_not_charge_it(catalog_db: CatalogDb, tmp_path: Path) -> None:
    error = import_refused(catalog_db, tmp_path, {**PRODUCT, "gtin": gtin_for(3), "deposit": 10})
    assert str(error).startswith("line 3: deposit: ") and "not charged" in str(error) and "Fix:" in str(error)


def test_a_zero_deposit_means_none_and_loads() -> None:
    record = parse_line(json.dumps({**PRODUCT, "deposit": 0}).encode(), 1)
    assert isinstance(record, Record) and record.row[8] == 0


# --- per-language names ---

def test_names_per_language_are_accepted() -> None:
    record = parse_line(json.dumps({**PRODUCT, "names": {"ja": "緑茶 500ml", "en": "Green tea 500ml",
                                                         "zh-Hant": "綠茶"}}).encode(), 1)
    assert isinstance(record, Record) and record.kind == "product"


@pytest.mark.parametrize(("names", "field"), [
    ("Green tea", "names"), ({"ja": ""}, "names.ja"), ({"ja": "   "}, "names.ja"), ({"ja": 5}, "names.ja"),
    ({"Japanese!": "緑茶"}, "names"), ({}, "names"),
])
def test_bad_names_are_refused(names: object, field: str) -> None:
    error = refusal({**PRODUCT, "names": names})
    assert error.problem.startswith(f"{field}") and "Fix:" in error.problem


# --- what store IT sees ---

def test_the_command_line_names_the_line_the_field_and_the_fix(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = write_lines(tmp_path / "c.jsonl", [PRODUCT, {**COUPON, "conditions": {"member_only": "false"}}],
                       version=1)
    assert main(["catalog", "import", str(path), "--state-dir", str(tmp_path / "state")]) == 2
    err = capsys.readouterr().err
    assert "line 2: conditions.member_only: must be true or false" in err and "Fix: write false" in err
    assert "Traceback" not in err


# --- a property: each condition key takes its one type and nothing else ---

VALID_CONDITION = {"min_spend": st.integers(0, 10**7), "member_only": st.booleans(),
                   "gtins": st.lists(st.integers(0, 10**6).map(gtin_for), min_size=1, max_size=3),
                   "departments": st.lists(st.sampled_from(["food", "drinks"]), min_size=1, max_size=2)}
ANY_JSON = st.recursive(st.none() | st.booleans() | st.integers(-10, 10**6) | st.floats(allow_nan=False,
                        allow_infinity=False) | st.text(max_size=14),
                        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                    max_size=2), max_leaves=5)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(VALID_CONDITION)), st.data())
def test_a_condition_loads_only_as_its_own_type(key: str, data: st.DataObject) -> None:
    value = data.draw(VALID_CONDITION[key] | ANY_JSON)
    outcome = _parsed({**COUPON, "conditions": {key: value}})
    if isinstance(outcome, Record):
        stored = json.loads(outcome.row[3])[key]
        expected = {"min_spend": int, "member_only": bool, "gtins": list, "departments": list}[key]
        assert type(value) is expected and type(stored) is expected
        if key == "gtins":
            assert all(type(g) is str and len(g) == 14 for g in stored)
    else:
        assert isinstance(outcome, CatalogLineError) and f"conditions.{key}" in outcome.problem


def test_a_misspelt_field_is_refused_with_the_likely_name() -> None:
    error = refusal({**COUPON, "conditions": {"min_spnd": 5000}})
    assert "if you meant 'min_spend', rename it" in error.problem


# --- sale stops by lot, and the expiry-day markdown ---

STOP: dict[str, Any] = {"kind": "sale_stop", "gtin": TEA, "lot": "L2026A", "reason": "recall",
                        "message": "Do not eat; return it to the service counter for a refund",
                        "message_ja": "召し上がらずにサービスカウンターへお持ちください", "version": 1}


def test_a_sale_stop_loads_and_is_found_by_its_lot_or_every_lot(catalog_db: CatalogDb, tmp_path: Path) -> None:
    every = {**STOP, "gtin": gtin_for(2), "lot": "*", "reason": "quality", "message": "Please put it aside"}
    load_snapshot(catalog_db, write_lines(tmp_path / "s.jsonl", [PRODUCT, STOP, every], version=1))
    stop = catalog_db.sale_stop(TEA, "L2026A")
    assert stop is not None and stop.reason == "recall" and stop.message == STOP["message"]
    assert stop.message_ja == STOP["message_ja"]
    assert catalog_db.sale_stop(TEA, "L2026B") is None and catalog_db.sale_stop(TEA, None) is None
    assert catalog_db.sale_stop(gtin_for(2), "ANY") is not None and catalog_db.sale_stop(gtin_for(2), None) is not None
    assert catalog_db.status().counts["sale_stop"] == 2


@pytest.mark.parametrize(("line", "field"), [
    ({**STOP, "lot": ""}, "lot"), ({**STOP, "lot": "LOT WITH SPACE"}, "lot"), ({**STOP, "lot": "L" * 21}, "lot"),
    ({**STOP, "lot": 12}, "lot"), ({**STOP, "message": ""}, "message"), ({**STOP, "gtin": "4901234567890"}, "gtin"),
    ({k: v for k, v in STOP.items() if k != "reason"}, "reason"), ({**STOP, "until": "x"}, "until"),
])
def test_a_bad_sale_stop_is_refused_naming_the_field(line: dict[str, Any], field: str) -> None:
    assert refusal(line).problem.startswith(f"{field}: ")


def test_a_sale_stop_is_deleted_by_its_gtin_and_lot() -> None:
    delta = parse_delta(delta_payload(1, 2, [{"kind": "delete", "of": "sale_stop", "id": TEA, "lot": "L2026A"}]))
    assert delta.changes[0].of == "sale_stop" and delta.changes[0].lot == "L2026A"   # type: ignore[union-attr]
    with pytest.raises(CatalogLineError, match="lot: "):
        parse_delta(delta_payload(1, 2, [{"kind": "delete", "of": "sale_stop", "id": TEA}]))
    with pytest.raises(CatalogLineError, match="lot: is only used"):
        parse_delta(delta_payload(1, 2, [{"kind": "delete", "of": "member", "id": "M1", "lot": "L1"}]))


MARKDOWN: dict[str, Any] = {"kind": "promotion", "id": "MD-1", "type": "expiry_markdown", "percent": "0.20",
                            "version": 1}


def test_an_expiry_markdown_without_gtins_covers_every_item(catalog_db: CatalogDb, tmp_path: Path) -> None:
    eve = {**MARKDOWN, "id": "MD-2", "percent": None, "amount": 30, "days_before": 1, "gtins": [gtin_for(2)]}
    del eve["percent"]
    load_snapshot(catalog_db, write_lines(tmp_path / "s.jsonl", [PRODUCT, MARKDOWN, eve], version=1))
    tea = catalog_db.promotions(TEA)
    assert [(p.promo_id, p.type, p.percent, p.days_before) for p in tea] == [("MD-1", "expiry_markdown", "0.20", 0)]
    both = catalog_db.promotions(gtin_for(2))
    assert [(p.promo_id, p.amount, p.days_before) for p in both] == [("MD-1", None, 0), ("MD-2", 30, 1)]


@pytest.mark.parametrize(("line", "field"), [
    ({**MARKDOWN, "amount": 30}, "percent"), ({k: v for k, v in MARKDOWN.items() if k != "percent"}, "percent"),
    ({**MARKDOWN, "days_before": 2}, "days_before"), ({**MARKDOWN, "days_before": 1.0}, "days_before"),
    ({**MARKDOWN, "quantity": 2}, "quantity"), ({**MARKDOWN, "percent": "20"}, "percent"),
    ({"kind": "promotion", "id": "P", "type": "percent", "percent": "0.1", "gtins": [TEA], "days_before": 1,
      "version": 1}, "days_before"),
])
def test_a_bad_markdown_is_refused_naming_the_field(line: dict[str, Any], field: str) -> None:
    assert refusal(line).problem.startswith(f"{field}: ")


# --- what a unit weighs in the bag (the bagging-area scale) ---

def test_weights_load_on_both_paths_and_are_read_back(catalog_db: CatalogDb, tmp_path: Path) -> None:
    plain = {**PRODUCT, "weight_g": 512, "weight_tolerance_g": 15}
    checked = {**PRODUCT, "gtin": gtin_for(2), "names": {"ja": "米"}, "weight_g": 5000, "weight_exempt": True}
    load_snapshot(catalog_db, write_lines(tmp_path / "w.jsonl", [plain, checked, {**PRODUCT, "gtin": gtin_for(3)}],
                                          version=1))
    tea, rice, bare = (catalog_db.product(gtin_for(i)) for i in (1, 2, 3))
    assert tea is not None and (tea.weight_g, tea.weight_tolerance_g, tea.weight_exempt) == (512, 15, False)
    assert rice is not None and (rice.weight_g, rice.weight_tolerance_g, rice.weight_exempt) == (5000, None, True)
    assert bare is not None and (bare.weight_g, bare.weight_tolerance_g, bare.weight_exempt) == (None, None, False)


@pytest.mark.parametrize(("line", "field"), [
    ({**PRODUCT, "weight_g": 0}, "weight_g"), ({**PRODUCT, "weight_g": 12.5}, "weight_g"),
    ({**PRODUCT, "weight_g": "512"}, "weight_g"), ({**PRODUCT, "weight_tolerance_g": -1}, "weight_tolerance_g"),
    ({**PRODUCT, "weight_g": 100_001}, "weight_g"), ({**PRODUCT, "weight_exempt": "yes"}, "weight_exempt"),
])
def test_a_bad_weight_is_refused_naming_the_field(line: dict[str, Any], field: str) -> None:
    error = refusal(line)
    assert error.problem.startswith(f"{field}: ") and "Fix:" in error.problem


def test_a_delta_carries_the_weights() -> None:
    delta = parse_delta(delta_payload(1, 2, [{**PRODUCT, "weight_g": 330, "weight_tolerance_g": 9}]))
    record = delta.changes[0]
    assert isinstance(record, Record) and record.row[-3:] == (330, 9, 0)
