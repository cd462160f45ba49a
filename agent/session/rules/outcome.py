"""Pure: what the offline catalog adds to an interpreted scan (the outcome for the lane, the facts for the screen).

The session issue will price lines from these facts; here a scan only learns whether the lane can sell it
as is, needs an attendant (age check, sale stop, expiry from the code itself), or does not know it.
"""

from __future__ import annotations

from typing import Any, Protocol

from agent.catalog.records import Member as MemberRecord
from agent.catalog.records import Product as ProductRecord
from agent.interpret.meanings import Member, Product

Outcome = dict[str, Any]
Display = dict[str, Any]


class MemberLookup(Protocol):
    def member(self, member_id: str) -> MemberRecord | None: ...
    def member_by_card(self, card_no: str) -> MemberRecord | None: ...


def product_fields(meaning: Product, record: ProductRecord | None) -> tuple[Outcome, Display]:
    """Outcome changes for the event, and what the screen shows."""
    if meaning.blocked:
        return {}, _display(record, meaning)
    if record is None:
        return {"outcome": "unknown", "reason": "not_in_catalog"}, {}
    if record.sale_stop:
        return {"outcome": "attendant", "reason": "sale_stop"}, _display(record, meaning)
    if record.age_restricted:
        return {"outcome": "attendant", "reason": "age_restricted"}, _display(record, meaning)
    return {}, _display(record, meaning)


def _display(record: ProductRecord | None, meaning: Product) -> Display:
    if record is None:
        return {}
    display: Display = {"name": record.name, "unit_price": record.price, "unit": record.unit}
    if meaning.price_minor is not None:
        display["price"] = meaning.price_minor           # the label's own price wins (RCN, AI 392x)
    elif record.unit is None:
        display["price"] = record.price
    if record.member_price is not None:
        display["member_price"] = record.member_price
    if meaning.weight_g is not None:
        display["weight_g"] = meaning.grams()
    return display


def member_record(meaning: Member, catalog: MemberLookup) -> MemberRecord | None:
    """The member cache's record for a token's member ID or a legacy card."""
    if meaning.member_id is not None:
        return catalog.member(meaning.member_id)
    if meaning.card_number is not None:
        return catalog.member_by_card(meaning.card_number)
    return None


def member_fields(meaning: Member, record: MemberRecord | None) -> tuple[Outcome, Display]:
    """The outcome and display of a member code, from the member cache's record (None: not found)."""
    if record is None:
        # An app token is signed by the cloud: the member exists even if this cache does not know them yet.
        if meaning.member_id is not None:
            return {"member_id": meaning.member_id}, {}
        return {"outcome": "unknown", "reason": "member_not_found"}, {}
    if record.status != "active":
        return {"member_id": record.member_id, "outcome": "attendant", "reason": f"member_{record.status}"}, {}
    return {"member_id": record.member_id}, {"tier": record.tier, "points": record.points}
