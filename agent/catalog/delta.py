"""Catalog deltas (MQTT `{prefix}/{store}/catalog`): parse, then apply in one transaction, idempotently.

A delta moves the catalog from version `base` to `version`. It applies when `base <= current < version`;
one with `version <= current` was applied already (a duplicate, ignored); one with `base > current`
means deltas were missed (a gap): the caller keeps it and pulls a snapshot. A record older than the
stored one is skipped, so overlapping deltas never move a record backwards.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from enum import StrEnum

from agent.catalog.fields import CatalogLineError
from agent.catalog.lines import Delete, DeltaHeader, Record, parse_line
from agent.catalog.load import CHILD_TABLE, INSERT
from agent.catalog.schema import KINDS

CHILD_KEY = {"promotion_items": "promo_id", "member_cards": "member_id"}


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    GAP = "gap"
    HELD = "held"          # a snapshot pull is running; applied (or dropped as superseded) when it ends


@dataclass(frozen=True, slots=True)
class Delta:
    base: int
    version: int
    changes: tuple[Record | Delete, ...]


def parse_delta(payload: bytes) -> Delta:
    """Validate every line of a delta payload; raise CatalogLineError naming the first bad line."""
    lines = payload.splitlines()
    if not lines:
        raise CatalogLineError(0, "empty delta payload")
    header = parse_line(lines[0], 1)
    if type(header) is not DeltaHeader:
        raise CatalogLineError(1, "a delta must start with {\"kind\": \"delta\", \"base\": N, \"version\": M}")
    if header.version <= header.base:
        raise CatalogLineError(1, f"delta version {header.version} must be greater than its base {header.base}")
    changes: list[Record | Delete] = []
    for number, raw in enumerate(lines[1:], start=2):
        item = parse_line(raw, number)
        if type(item) not in (Record, Delete):
            raise CatalogLineError(number, "only records and deletes may follow the delta header")
        assert isinstance(item, (Record, Delete))
        if item.version > header.version:
            raise CatalogLineError(number, f"version {item.version} is newer than the delta's {header.version}")
        changes.append(item)
    return Delta(header.base, header.version, tuple(changes))


def current_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
    return 0 if row is None else int(row[0])


def apply_delta_tx(conn: sqlite3.Connection, delta: Delta, now: float) -> Outcome:
    """Apply inside the caller's write transaction (`Database.write`); `now` (epoch s) marks the catalog fresh."""
    current = current_version(conn)
    if current == 0 or delta.base > current:
        return Outcome.GAP
    if delta.version <= current:
        return Outcome.DUPLICATE
    counts = json.loads(conn.execute("SELECT value FROM meta WHERE key = 'counts'").fetchone()[0])
    for change in delta.changes:
        if isinstance(change, Record):
            counts[change.kind] = counts.get(change.kind, 0) + _upsert(conn, change)
        else:
            counts[change.of] = counts.get(change.of, 0) - _delete(conn, change)
    meta = {"version": str(delta.version), "checked_at": str(now), "counts": json.dumps(counts)}
    conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())
    return Outcome.APPLIED


def _key_where(kind: str) -> tuple[str, int]:
    """The WHERE clause matching one record of `kind`, and how many leading row fields it takes."""
    table, column = KINDS[kind]
    if kind == "price":
        return f"{table} WHERE gtin = ? AND valid_from = ?", 2
    if kind == "sale_stop":
        return f"{table} WHERE gtin = ? AND lot = ?", 2
    return f"{table} WHERE {column} = ?", 1


def _upsert(conn: sqlite3.Connection, record: Record) -> int:
    """Insert or replace one record unless the stored one is newer; return the change in row count."""
    where, width = _key_where(record.kind)
    stored = conn.execute(f"SELECT version FROM {where}", record.row[:width]).fetchone()  # noqa: S608
    if stored is not None and stored[0] > record.version:
        return 0
    conn.execute(INSERT[record.kind].replace("INSERT", "INSERT OR REPLACE", 1), record.row)
    child = CHILD_TABLE.get(record.kind)
    if child is not None:
        conn.execute(f"DELETE FROM {child} WHERE {CHILD_KEY[child]} = ?", (record.key,))  # noqa: S608
        conn.executemany(INSERT[child].replace("INSERT", "INSERT OR REPLACE", 1), record.children)
    return 0 if stored is not None else 1


def _delete(conn: sqlite3.Connection, delete: Delete) -> int:
    """Delete a record (for prices: every window of that GTIN; a sale stop: its GTIN and lot); return how many
    rows went."""
    table, column = KINDS[delete.of]
    if delete.of == "sale_stop":
        return conn.execute("DELETE FROM sale_stops WHERE gtin = ? AND lot = ? AND version <= ?",
                            (delete.key, delete.lot, delete.version)).rowcount
    removed = conn.execute(f"DELETE FROM {table} WHERE {column} = ? AND version <= ?",  # noqa: S608
                           (delete.key, delete.version)).rowcount
    child = CHILD_TABLE.get(delete.of)
    if child is not None and removed:
        conn.execute(f"DELETE FROM {child} WHERE {CHILD_KEY[child]} = ?", (delete.key,))  # noqa: S608
    return removed
