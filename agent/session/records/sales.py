"""Completed sales in lane.db: the sale row and its `omo.sale/1` outbox row commit together.

`record_sale` never leaves a sale recorded without its outbox row (or the reverse), and refuses a new sale
while the disk is nearly full. The session's controller calls it in the same transaction that records the
payment's success and the paid session (agent/session/controller.py), so a charge is never without its sale.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from agent.store import Migration
from agent.sync import outbox
from agent.sync.disk import DiskGuard

MIGRATIONS = [
    Migration("m001_sales", """
        CREATE TABLE sales (
            sale_id TEXT PRIMARY KEY,
            session_id TEXT,
            total INTEGER NOT NULL,
            body TEXT NOT NULL,
            event_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ')));
    """),
]

SALE_FIELDS = ("sale_id", "session_id", "member_id", "lines", "discounts", "points", "tax", "total", "payment",
               "currency", "coupons", "points_redeemed", "tax_mode", "tax_rounding", "tax_breakdown", "subtotal",
               "discount_total", "amount_due", "clock", "receipt")


def record_sale(conn: sqlite3.Connection, sale: dict[str, Any], guard: DiskGuard | None = None) -> tuple[str, int]:
    """Store one completed (or voided) sale and enqueue its event; run it through `Database.write`.

    Args:
        sale: the fields of the sale payload (docs/asyncapi.yaml) (`sale_id`, `total` in minor units, `lines`, ...).
        guard: when given, refuses the sale with DiskFullError before anything is written.
    Returns:
        (event_id, seq) of the outbox row.
    """
    if guard is not None:
        guard.admit_sale()
    body = {key: sale[key] for key in SALE_FIELDS if key in sale}
    if "occurred_at" in sale:
        body["occurred_at"] = sale["occurred_at"]
    if "status" in sale:
        body["status"] = sale["status"]
    event_id, seq = outbox.enqueue(conn, "sales", "omo.sale/1", body)
    conn.execute("INSERT INTO sales (sale_id, session_id, total, body, event_id, seq) VALUES (?, ?, ?, ?, ?, ?)",
                 (sale["sale_id"], sale.get("session_id"), int(sale["total"]),
                  json.dumps(body, separators=(",", ":")), event_id, seq))
    return event_id, seq
