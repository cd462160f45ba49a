"""Lookups the session makes: prices in force at a time, promotions, members by card, coupons, orders, policy."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.catalog.db import CatalogDb
from agent.catalog.load import load_snapshot
from agent.catalog.records import OfflinePolicy
from simulators.cloud.catalog_data import gtin_for, write_lines

G1, G2 = gtin_for(1), gtin_for(2)
PEM = ("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
       "-----END PUBLIC KEY-----\n")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.fixture
def loaded(catalog_db: CatalogDb, tmp_path: Path) -> CatalogDb:
    lines = [
        {"gtin": G1, "name": "Tea", "price": 198, "tax_rate": "0.08", "member_price": 178, "version": 7},
        {"gtin": G2[1:], "name": "Beer", "price": 250, "tax_rate": "0.10", "age_restricted": True,
         "department": "drinks", "version": 7},
        {"gtin": gtin_for(3), "name": "Minced beef", "price": 298, "tax_rate": "0.08", "unit": "100g",
         "sale_stop": True, "version": 7},
        {"kind": "price", "gtin": G1, "price": 150, "member_price": 140, "from": "2026-12-01T00:00:00Z",
         "to": "2026-12-08T00:00:00Z", "version": 7},
        {"kind": "promotion", "id": "P-2for300", "type": "bundle", "quantity": 2, "price": 300, "gtins": [G1, G2],
         "from": "2026-11-01T00:00:00+09:00", "to": "2027-01-01T00:00:00+09:00", "version": 7},
        {"kind": "promotion", "id": "P-10pct", "type": "percent", "percent": "0.10", "gtins": [G1],
         "member_only": True, "version": 7},
        {"kind": "coupon", "id": "C-100", "amount": 100, "conditions": {"min_spend": 1000}, "max_uses": 1,
         "version": 7},
        {"kind": "member", "id": "M1", "tier": "gold", "points": 1200, "cards": ["2400000001"],
         "consent_interest": True, "version": 7},
        {"kind": "order", "id": "O-9", "member": "M1", "items": [{"gtin": G1, "qty": 2}], "status": "ready",
         "locker": "A3", "version": 7},
        {"kind": "key", "kid": "cloud-2026", "public_key": PEM, "version": 7},
        {"kind": "policy", "key": "points_redemption", "value": True, "version": 7},
    ]
    load_snapshot(catalog_db, write_lines(tmp_path / "s.jsonl", lines, version=7))
    return catalog_db


def test_product_has_its_regular_price_outside_any_window(loaded: CatalogDb) -> None:
    tea = loaded.product(G1, at("2026-11-20T12:00:00"))
    assert tea is not None and (tea.price, tea.member_price, tea.tax_rate, tea.version) == (198, 178, "0.08", 7)


def test_time_limited_price_applies_only_inside_its_window(loaded: CatalogDb) -> None:
    inside = loaded.product(G1, at("2026-12-03T09:00:00"))
    assert inside is not None and (inside.price, inside.member_price, inside.regular_price) == (150, 140, 198)
    after = loaded.product(G1, at("2026-12-08T00:00:00"))
    assert after is not None and after.price == 198


def test_gtin13_in_a_line_is_stored_as_gtin14(loaded: CatalogDb) -> None:
    beer = loaded.product(G2)
    assert beer is not None and beer.gtin == G2 and beer.age_restricted and beer.deposit == 0
    assert loaded.product(G2[1:]) == beer


def test_weighed_and_stopped_items_say_so(loaded: CatalogDb) -> None:
    beef = loaded.product(gtin_for(3))
    assert beef is not None and beef.unit == "100g" and beef.sale_stop


def test_unknown_gtin_is_none(loaded: CatalogDb) -> None:
    assert loaded.product(gtin_for(424242)) is None


def test_promotions_for_a_gtin_respect_their_windows(loaded: CatalogDb) -> None:
    ids = [p.promo_id for p in loaded.promotions(G1, at("2026-11-20T00:00:00"))]
    assert ids == ["P-10pct", "P-2for300"]
    assert [p.promo_id for p in loaded.promotions(G1, at("2027-02-01T00:00:00"))] == ["P-10pct"]
    bundle = loaded.promotions(G2, at("2026-11-20T00:00:00"))[0]
    assert (bundle.type, bundle.quantity, bundle.bundle_price) == ("bundle", 2, 300)


def test_member_by_id_and_by_legacy_card(loaded: CatalogDb) -> None:
    member = loaded.member("M1")
    assert member is not None and member.points == 1200 and member.consent_interest and member.version == 7
    assert loaded.member_by_card("2400000001") == member
    assert loaded.member_by_card("0000") is None


def test_coupon_order_and_trusted_key(loaded: CatalogDb) -> None:
    coupon = loaded.coupon("C-100")
    assert coupon is not None and coupon.amount == 100 and coupon.conditions == {"min_spend": 1000}
    order = loaded.order("O-9")
    assert order is not None and order.items == ((G1, 2),) and order.locker == "A3"
    key = loaded.trusted_key("cloud-2026")
    assert key is not None and "BEGIN PUBLIC KEY" in key.public_key


def test_offline_policy_is_cloud_data_over_safe_defaults(loaded: CatalogDb) -> None:
    policy = loaded.policy()
    assert policy.points_redemption is True          # the cloud allowed it
    assert policy.max_sale_total == 30000            # a key the cloud did not send keeps the safe default
    assert policy.single_use_coupons is False and policy.version == 7


def test_a_wrongly_typed_stored_policy_value_keeps_the_safe_default() -> None:
    """Import refuses such a value now; a catalog file loaded before that may still hold one."""
    policy = OfflinePolicy.from_rows([("max_sale_total", '"lots"', 3), ("points_redemption", "true", 3)])
    assert policy.max_sale_total == 30000 and policy.points_redemption is True


def test_status_counts_every_kind(loaded: CatalogDb) -> None:
    counts = loaded.status().counts
    assert counts == {"product": 3, "price": 1, "promotion": 2, "coupon": 1, "member": 1, "order": 1, "key": 1,
                      "policy": 1, "sale_stop": 0}


def test_item_reads_product_and_promotions_together(loaded: CatalogDb) -> None:
    product, promotions = loaded.item(G1, at("2026-12-03T09:00:00"))
    assert product is not None and product.price == 150
    assert [p.promo_id for p in promotions] == ["P-10pct", "P-2for300"]
    assert loaded.item(gtin_for(424242)) == (None, [])
