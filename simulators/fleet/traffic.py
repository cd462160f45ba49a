"""One shopper's visit at a virtual lane, as the lane's database writes it: the events a real lane sends.

Why the real engine: the fleet measures what the cloud receives, so the sale is priced by the one pricing
engine and built by the receipt module the session uses (`agent.session.rules.totals`, `agent.session.rules.receipt`),
with 20 lines of the generated catalog. Its payload has the real size and shape (lines, per-rate tax, the
receipt), and each write goes through the same functions as the daemon's: `record_scan`, `record_sale` and
`outbox.enqueue` in one transaction per step, so seq, the outbox and its triggers are the product's own.
"""

from __future__ import annotations

import random
import sqlite3
import uuid
from dataclasses import dataclass, replace
from typing import Any

from agent.clock import SYSTEM_CLOCK, rfc3339_ms
from agent.session.records.sales import record_sale
from agent.session.records.scans import record_scan
from agent.session.rules.basket import BasketLine, Session, new_session
from agent.session.rules.receipt import build_sale
from agent.session.rules.totals import price
from agent.session.rules.visit_change import session_event
from agent.session.settings import SessionSection
from agent.sync import outbox
from simulators.cloud.catalog_data import gtin_for, price_for

CATALOG_SIZE = 5000
SETTINGS = SessionSection(issuer_name="omo-edge fleet", registration_number="T9234567890123")


@dataclass(frozen=True)
class Rate:
    """The traffic of one lane: `sales_per_minute` visits, each of `scans_per_sale` product scans."""

    sales_per_minute: float = 1.0
    scans_per_sale: int = 20

    @property
    def period_s(self) -> float:
        return 60.0 / self.sales_per_minute

    @property
    def events_per_sale(self) -> int:
        """The session's start, every scan, the sale and the session's `paid`."""
        return self.scans_per_sale + 3

    def events_per_second(self, lanes: int) -> float:
        return lanes * self.events_per_sale * self.sales_per_minute / 60.0


class Visit:
    """One shopper: a session opened, products scanned one by one, paid, each step its own commit."""

    def __init__(self, lane_number: int, visit_number: int, scans: int, rng: random.Random) -> None:
        self.session = new_session(f"fleet-{lane_number}-{visit_number}-{uuid.uuid4().hex[:8]}",
                                   SYSTEM_CLOCK.time(), clock_synced=True)
        self.products = [rng.randrange(CATALOG_SIZE) for _ in range(scans)]

    def start(self, conn: sqlite3.Connection) -> int:
        _, seq = outbox.enqueue(conn, *session_event(self.session, "started"))
        return seq

    def scan(self, conn: sqlite3.Connection, index: int) -> int:
        gtin = gtin_for(self.products[index])
        _, seq = record_scan(conn, {"device": "handheld", "symbology": "ean13", "text": gtin[1:], "kind": "product",
                                    "gtin": gtin, "session_id": self.session.session_id, "outcome": "added"})
        return seq

    def pay(self, conn: sqlite3.Connection) -> int:
        """The sale and the session's `paid` in one transaction, as the controller commits them."""
        sale = self.sale()
        record_sale(conn, sale)
        _, seq = outbox.enqueue(conn, *session_event(self.session, "paid", sale_id=sale["sale_id"],
                                                      total=sale["total"]))
        return seq

    def sale(self) -> dict[str, Any]:
        lines = tuple(BasketLine(line_id=f"L{n}", gtin=gtin_for(i), name=f"Product {i}", quantity=1,
                                 unit_price=price_for(i), member_price=None,
                                 tax_rate="0.08" if i % 3 else "0.10", department="grocery", position=n)
                      for n, i in enumerate(self.products, start=1))
        session: Session = replace(self.session, lines=lines, next_line=len(lines) + 1)
        priced = price(session, SETTINGS, None)
        return build_sale(session, priced, sale_id=str(uuid.uuid4()), occurred_at=rfc3339_ms(SYSTEM_CLOCK.now()),
                          monotonic=SYSTEM_CLOCK.monotonic(), settings=SETTINGS, currency="JPY",
                          payment={"method": "wallet", "provider": "simulated", "amount": priced.amount_due})

