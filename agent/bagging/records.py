"""Learned bag weights in lane.db: the recent weighings of each product the catalog gives no weight, and the
weight learned from them (agent/bagging/learned.py), sent up as `omo.weights/1` when it changes.

Why in lane.db and not in memory: a lane learns from visit after visit, over days; a restart must not forget.
The event is written in the same transaction as the learned row, so the cloud hears every change once, and can
share the weight with the other lanes through the catalog (`weight_g`).
"""

from __future__ import annotations

import sqlite3

from agent.bagging.learned import Learned, learn
from agent.bagging.rules import Sample
from agent.store import Migration
from agent.sync import outbox

COMPONENT = "bagging"
KEEP = 50             # the most recent weighings per product: enough for a robust median, and it follows change
SCHEMA = "omo.weights/1"

MIGRATIONS: list[Migration] = [
    Migration("m001_bag_weights", """
        CREATE TABLE bag_weight_samples (
            gtin TEXT NOT NULL, weight_mg INTEGER NOT NULL, at REAL NOT NULL);
        CREATE INDEX bag_weight_samples_gtin ON bag_weight_samples (gtin, at);
        CREATE TABLE learned_weights (
            gtin TEXT PRIMARY KEY, weight_mg INTEGER NOT NULL, tolerance_mg INTEGER NOT NULL,
            samples INTEGER NOT NULL, learned_at REAL NOT NULL) WITHOUT ROWID;
    """),
]


def add_sample(conn: sqlite3.Connection, sample: Sample, now: float, min_samples: int,
               floor_mg: int) -> Learned | None:
    """Keep the weighing; learn again; a learned weight that changed is stored and its event enqueued."""
    conn.execute("INSERT INTO bag_weight_samples VALUES (?, ?, ?)", (sample.gtin, sample.weight_mg, now))
    conn.execute("DELETE FROM bag_weight_samples WHERE gtin = ?1 AND rowid NOT IN (SELECT rowid FROM "
                 "bag_weight_samples WHERE gtin = ?1 ORDER BY at DESC, rowid DESC LIMIT ?2)", (sample.gtin, KEEP))
    samples = [w for (w,) in conn.execute("SELECT weight_mg FROM bag_weight_samples WHERE gtin = ?", (sample.gtin,))]
    learned = learn(sample.gtin, samples, min_samples=min_samples, floor_mg=floor_mg)
    if learned is None:
        return None
    before = learned_weight(conn, sample.gtin)
    conn.execute("INSERT OR REPLACE INTO learned_weights VALUES (?, ?, ?, ?, ?)",
                 (learned.gtin, learned.weight_mg, learned.tolerance_mg, learned.samples, now))
    if before is None or (before.weight_mg, before.tolerance_mg) != (learned.weight_mg, learned.tolerance_mg):
        outbox.enqueue(conn, "sessions", SCHEMA, {"gtin": learned.gtin, "weight_mg": learned.weight_mg,
                                                  "tolerance_mg": learned.tolerance_mg, "samples": learned.samples})
    return learned


def learned_weight(conn: sqlite3.Connection, gtin: str) -> Learned | None:
    row = conn.execute("SELECT gtin, weight_mg, tolerance_mg, samples FROM learned_weights WHERE gtin = ?",
                       (gtin,)).fetchone()
    return None if row is None else Learned(row[0], row[1], row[2], row[3])
