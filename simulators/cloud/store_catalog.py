"""A small convenience store's catalog, as the cloud would send it: the session's tests and the demo sell from it.

Every code here is a real, check-digit-valid code of its kind, so it goes through the same interpretation
as a label in a store: JAN/EAN-13 items, a per-100 g item read from a GS1 element string with its net
weight, a deli item with its price in an in-store (RCN "02") label, an age-restricted beer, a sale-stopped
snack, a "2 for 300" bundle, member prices, members with and without consent, coupons, and online orders
waiting for pickup (in a locker compartment the cloud named, or in none, another member's, one collected).
Tea and batteries carry their weight in the bag (the bagging-area scale); the onigiri's is left to be learned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.interpret.gtin import check_digit
from simulators.cloud.catalog_data import write_lines


def ean13(body12: str) -> str:
    return body12 + str(check_digit(body12))


TEA = ean13("451000000001")            # green tea 500ml, 8 %, member price
ONIGIRI = ean13("451000000002")        # salmon onigiri, 8 %, "2 for 300"
BEER = ean13("451000000003")           # craft beer, 10 %, age-restricted
BATTERIES = ean13("451000000004")      # AA batteries, 10 %, household
SNACK = ean13("451000000005")          # recalled snack: sale stopped
BEEF = ean13("451000000006")           # beef, priced per 100 g (weighed at the deli scale)
DELI_ITEM = "0212345"                  # deli bento: in-store label "02" + item 12345 + price
NOT_IN_CATALOG = ean13("451000000099")
MEMBER = "M-0001"                      # gold, 1200 points, consents to interest events
MEMBER_NO_CONSENT = "M-0002"
COUPON_100 = "C-100OFF"                # 100 off a spend of 500 or more, members only
COUPON_TEA = "C-TEA20"                 # 20 % off tea
ORDER_READY = "O-1001"                 # MEMBER's order, ready in locker compartment A3
ORDER_NO_COMPARTMENT = "O-1002"        # MEMBER's order, ready; the cloud named no compartment
ORDER_OTHER_MEMBER = "O-1003"          # MEMBER_NO_CONSENT's order, ready in B1
ORDER_COLLECTED = "O-1004"             # MEMBER's order, collected already (at the service counter)
ORDER_NOT_IN_CATALOG = "O-9999"


def deli_label(price: int) -> str:
    """An in-store price label for the deli bento: the JAN-style RCN "02" layout with the price embedded."""
    return ean13(f"{DELI_ITEM}{price:05d}")


def beef_label(weight_g: int) -> str:
    """A GS1 element string as the deli scale prints it: the GTIN and the net weight in grams (AI 3103)."""
    return f"01{'0' + BEEF}3103{weight_g:06d}"


def deli_lookup_gtin() -> str:
    return "0" + ean13(f"{DELI_ITEM}00000")


# Each product's name on the Japanese screen (`names` in the catalog; `name` is the English one).
JAPANESE = {"Green tea 500ml": "緑茶 500ml", "Salmon onigiri": "鮭おにぎり", "Craft beer 350ml": "クラフトビール 350ml",
            "AA batteries x4": "単3形電池 4本", "Seaweed snack": "のりスナック", "Wagyu beef": "和牛",
            "Deli bento": "惣菜弁当"}


def records(version: int = 1) -> list[dict[str, Any]]:
    products = [
        {"gtin": TEA, "name": "Green tea 500ml", "price": 150, "member_price": 140, "tax_rate": "0.08",
         "department": "drinks", "weight_g": 530, "weight_tolerance_g": 15},
        {"gtin": ONIGIRI, "name": "Salmon onigiri", "price": 160, "tax_rate": "0.08", "department": "food"},
        {"gtin": BEER, "name": "Craft beer 350ml", "price": 298, "tax_rate": "0.10", "age_restricted": True,
         "department": "alcohol"},
        {"gtin": BATTERIES, "name": "AA batteries x4", "price": 498, "tax_rate": "0.10", "department": "household",
         "weight_g": 95},
        {"gtin": SNACK, "name": "Seaweed snack", "price": 120, "tax_rate": "0.08", "sale_stop": True},
        {"gtin": BEEF, "name": "Wagyu beef", "price": 398, "unit": "100g", "tax_rate": "0.08", "department": "deli"},
        {"gtin": deli_lookup_gtin(), "name": "Deli bento", "price": 0, "tax_rate": "0.08", "department": "deli"},
    ]
    products = [{**line, "names": {"ja": JAPANESE[line["name"]], "en": line["name"]}} for line in products]
    others: list[dict[str, Any]] = [
        {"kind": "promotion", "id": "P-ONIGIRI-2FOR300", "type": "bundle", "quantity": 2, "price": 300,
         "gtins": [ONIGIRI]},
        {"kind": "member", "id": MEMBER, "tier": "gold", "points": 1200, "consent_interest": True},
        {"kind": "member", "id": MEMBER_NO_CONSENT, "tier": "basic", "points": 30, "consent_interest": False,
         "cards": ["2400000000019"]},
        {"kind": "coupon", "id": COUPON_100, "amount": 100, "conditions": {"min_spend": 500, "member_only": True},
         "max_uses": 1},
        {"kind": "coupon", "id": COUPON_TEA, "percent": "0.2", "conditions": {"gtins": [TEA], "member_only": True}},
        # While the uplink is down the store takes card, cash and the simulated payment, never a wallet QR
        # (a wallet needs the payment service, which is out of reach with the uplink).
        {"kind": "policy", "key": "payment_kinds", "value": ["card", "cash", "simulated"]},
        {"kind": "order", "id": ORDER_READY, "member": MEMBER, "items": [{"gtin": TEA, "qty": 2}], "status": "ready",
         "locker": "A3"},
        {"kind": "order", "id": ORDER_NO_COMPARTMENT, "member": MEMBER, "items": [{"gtin": BATTERIES, "qty": 1}],
         "status": "ready"},
        {"kind": "order", "id": ORDER_OTHER_MEMBER, "member": MEMBER_NO_CONSENT, "items": [{"gtin": ONIGIRI, "qty": 3}],
         "status": "ready", "locker": "B1"},
        {"kind": "order", "id": ORDER_COLLECTED, "member": MEMBER, "items": [{"gtin": TEA, "qty": 1}],
         "status": "collected", "locker": "A4"},
    ]
    return [{**line, "version": version} for line in products + others]


def write_store_catalog(path: Path, version: int = 1) -> Path:
    """The store's catalog as a snapshot file, ready for `omo-edge catalog import` or `load_snapshot`."""
    return write_lines(path, records(version), version=version)
