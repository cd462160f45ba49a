"""The random audit's multiset comparison (agent/session/rules/audit.py): the four kinds by example, and
properties against a reference computed another way (`collections.Counter` arithmetic)."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.session.rules.audit import Difference, compare, counts

A, B, C = "04901234567894", "04901234567801", "04901234567818"


def test_the_same_counts_have_no_difference() -> None:
    assert compare({A: 2, B: 1}, {B: 1, A: 2}) == ()


def test_an_item_found_and_not_in_the_basket_is_missing() -> None:
    assert compare({A: 1}, {A: 1, B: 2}) == (Difference("missing_item", B, 0, 2),)


def test_fewer_in_the_basket_than_found_is_quantity_too_low() -> None:
    assert compare({A: 1}, {A: 3}) == (Difference("quantity_low", A, 1, 3),)
    assert compare({A: 1}, {A: 3})[0].extra == 2


def test_more_in_the_basket_than_found_is_quantity_too_high_and_adds_nothing() -> None:
    [high] = compare({A: 3, B: 1}, {A: 1, B: 1})
    assert high == Difference("quantity_high", A, 3, 1) and high.extra == 0


def test_a_basket_item_not_found_with_another_found_instead_is_a_different_item() -> None:
    [swap] = compare({A: 1, C: 1}, {B: 2, C: 1})
    assert swap == Difference("different_item", B, 0, 2, replaces=A, replaces_quantity=1) and swap.extra == 2


def test_a_basket_item_not_found_at_all_is_quantity_too_high_with_none_found() -> None:
    assert compare({A: 2}, {}) == (Difference("quantity_high", A, 2, 0),)


def test_unpaired_leftovers_are_missing_or_too_high_and_pairs_follow_gtin_order() -> None:
    found = compare({A: 1}, {B: 1, C: 1})     # B (first in order) replaces A; C is missing
    assert [(d.kind, d.gtin, d.replaces) for d in found] == [("different_item", B, A), ("missing_item", C, None)]


def test_counts_add_lines_of_the_same_gtin_and_drop_zero() -> None:
    assert counts([(A, 1), (B, 0), (A, 2)]) == {A: 3}


GTINS = st.sampled_from([A, B, C, "04901234567825", "04901234567832"])
MULTISET = st.dictionaries(GTINS, st.integers(min_value=1, max_value=5), max_size=5)


@settings(max_examples=200, deadline=None)
@given(basket=MULTISET, found=MULTISET)
def test_the_differences_are_exactly_the_counter_differences(basket: dict[str, int], found: dict[str, int]) -> None:
    """Reference: `Counter` subtraction both ways, from multisets of units listed one by one."""
    basket_units = Counter([g for g, n in basket.items() for _ in range(n)])
    found_units = Counter([g for g, n in found.items() for _ in range(n)])
    short, over = found_units - basket_units, basket_units - found_units   # missing from the basket; not found
    differences = compare(basket, found)
    assert (differences == ()) == (basket_units == found_units)
    assert Counter({d.gtin: d.extra for d in differences if d.extra}) == short
    too_many: Counter[str] = Counter()
    for d in differences:
        if d.kind == "quantity_high":
            too_many[d.gtin] += d.basket_quantity - d.found_quantity
        if d.kind == "different_item":
            assert d.replaces is not None and found_units[d.replaces] == 0 and basket_units[d.gtin] == 0
            too_many[d.replaces] += d.replaces_quantity
    assert too_many == over


@settings(max_examples=200, deadline=None)
@given(basket=MULTISET, found=MULTISET)
def test_each_kind_holds_its_definition_and_each_gtin_is_named_once(basket: dict[str, int],
                                                                    found: dict[str, int]) -> None:
    differences = compare(basket, found)
    named = [d.gtin for d in differences] + [d.replaces for d in differences if d.replaces]
    assert len(named) == len(set(named))
    for d in differences:
        have, seen = basket.get(d.gtin, 0), found.get(d.gtin, 0)
        assert (d.basket_quantity, d.found_quantity) == (have, seen)
        expected = {"missing_item": have == 0 < seen, "quantity_low": 0 < have < seen,
                    "quantity_high": have > seen, "different_item": have == 0 < seen and d.replaces is not None}
        assert expected[d.kind]
    only_basket = sorted(g for g in basket if g not in found)
    only_found = sorted(g for g in found if g not in basket)
    assert sum(d.kind == "different_item" for d in differences) == min(len(only_basket), len(only_found))
