"""Pure: which receipt a sale gets before the shopper touches the paid screen, and what the screen is told.

The shopper may change it on the paid screen (paper, app, none). "none" is the start for a member who chose it
in the app (the member record's `receipt`); otherwise the lane's `[receipts] default`. "app" for a member is the
`omo.receipt/1` event for the member's app; for anyone else it is a QR on the screen with the receipt's link.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CHOICES = ("paper", "app", "none")


def first_choice(default: str, member_choice: str | None) -> str:
    """The choice a sale starts with: the member's own from the app, else the lane's default."""
    return member_choice if member_choice in CHOICES else default


def screen_message(sale_id: str, choice: str, status: str, *, reason: str | None = None,
                   link: str | None = None) -> dict[str, Any]:
    """The `receipt` message for the paid screen. `status`: printing, printed, failed (paper out, cover open,
    offline: `reason`; the e-receipt is offered with `link`), sent (to the app), shown (a QR), none."""
    return {"type": "receipt", "sale_id": sale_id, "choice": choice, "status": status, "reason": reason,
            "link": link}


def app_event(sale: Mapping[str, Any], receipt_id: str | None) -> dict[str, Any]:
    """The `omo.receipt/1` body: the structured receipt for the member's app, keyed by sale and member."""
    return {"sale_id": sale["sale_id"], "member_id": sale["member_id"], "occurred_at": sale.get("occurred_at"),
            "receipt_id": receipt_id, "receipt": sale["receipt"]}
