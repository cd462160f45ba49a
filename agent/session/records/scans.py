"""Scan events in lane.db: the scan row and its `omo.scan/1` outbox row commit together.

The pipeline records a scan alone (`await lane_db.write(record_scan, fields)`) when no visit is involved, and
the session's controller records it in the same transaction as the change the scan made to the visit.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from agent.clock import SYSTEM_CLOCK, Clock, rfc3339_ms
from agent.store import Migration
from agent.sync import outbox

MIGRATIONS = [
    Migration("m001_scans", """
        CREATE TABLE scans (
            id INTEGER PRIMARY KEY,
            device TEXT NOT NULL,
            symbology TEXT NOT NULL,
            text TEXT NOT NULL,
            kind TEXT NOT NULL,
            gtin TEXT,
            session_id TEXT,
            outcome TEXT,
            event_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            occurred_at TEXT NOT NULL);
    """),
]

REQUIRED = ("device", "symbology", "text", "kind")
OPTIONAL = ("gtin", "addon", "session_id", "member_id", "outcome", "reason", "occurred_at", "clock_trusted", "lot",
            "expiry", "stop_reason")


def record_scan(conn: sqlite3.Connection, fields: dict[str, Any], clock: Clock = SYSTEM_CLOCK) -> tuple[str, int]:
    """Store one scan and enqueue its event in the caller's transaction; returns (event_id, seq).

    `fields` holds `device`, `symbology`, `text`, `kind` and where known `gtin`, `addon`, `session_id`,
    `member_id`, `outcome`, `occurred_at` (docs/asyncapi.yaml), `clock_trusted` (docs/interpretation.md), and a
    label's `lot` and `expiry` (recall tracing) with `stop_reason` when a sale stop refused the lot.
    """
    body = {key: fields[key] for key in REQUIRED}
    body.update({key: fields[key] for key in OPTIONAL if fields.get(key) is not None})
    body.setdefault("occurred_at", rfc3339_ms(clock.now()))
    event_id, seq = outbox.enqueue(conn, "scans", "omo.scan/1", body)
    conn.execute("INSERT INTO scans (device, symbology, text, kind, gtin, session_id, outcome, event_id, seq, "
                 "occurred_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (body["device"], body["symbology"], body["text"], body["kind"], body.get("gtin"),
                  body.get("session_id"), body.get("outcome"), event_id, seq, body["occurred_at"]))
    return event_id, seq
