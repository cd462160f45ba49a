"""What the checkout may do to the visit: the port through which the payment owner reaches the visit's owner.

Why a port: the checkout drives a payment from request to sale and the controller owns the visit; each needs
the other, and an import both ways made them one object split across two files. The checkout names only this
protocol, the controller satisfies it without importing the checkout, and an import-linter contract keeps
the two modules apart. The port is the whole of what a payment needs from the visit: the lock every change
takes, the visit as the last commit left it and its rules' settings, a commit that carries the payment's own
rows in the same transaction, the visit priced and checked against the lane's ledgers, and the sale of a
paid basket.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any, Protocol

from agent.session.pricing.engine_types import PricedBasket
from agent.session.rules.basket import Session
from agent.session.rules.visit_change import Change
from agent.session.settings import SessionSection

# More rows to write in the transaction that commits a change (a payment intent, its final state and event).
Also = Callable[[sqlite3.Connection], object]


class VisitPort(Protocol):
    """The visit as the checkout sees it (`SessionController` is the implementation)."""

    @property
    def lock(self) -> asyncio.Lock:
        """Held by every change to the visit; the checkout holds it while it decides and commits."""

    @property
    def session(self) -> Session:
        """The visit as the last commit left it."""

    @property
    def settings(self) -> SessionSection:
        """The visit's rules (`[session]`): what a payment's steps pass to them."""

    async def apply_locked(self, change: Change, scan_fields: dict[str, Any] | None = None,
                           also: Also | None = None) -> object:
        """Commit `change` while `lock` is held, with `also`'s rows in the same transaction; tell the screen."""

    def priced(self, session: Session) -> PricedBasket:
        """A visit priced by the one engine, under the offline policy while the catalog is stale."""

    def within_limits(self, basket: Session) -> tuple[Session, tuple[str, ...]]:
        """`basket` checked against the lane's ledgers now: coupon uses and the member's points left."""

    def sale_for(self, basket: Session, method: str, amount: int, payment_id: str,
                 reference: str | None) -> dict[str, Any]:
        """The sale of a basket that was charged `amount`: what was charged is what is recorded."""
