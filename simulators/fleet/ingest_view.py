"""What the ingest holds of each lane's stream, read from its database (SQLite file or PostgreSQL DSN).

The fleet's check of "every event arrived, none twice, no gap" is made against the ingest's own table, not
the fleet's bookkeeping: per stream, the rows, the distinct seqs and the highest seq must all equal the
lane's last seq.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import NamedTuple

PER_STREAM = ("SELECT stream_id, count(*), count(DISTINCT seq), max(seq) FROM events GROUP BY stream_id")


class StreamCounts(NamedTuple):
    rows: int
    distinct_seqs: int
    highest_seq: int


def held_by_stream(database: str) -> dict[str, StreamCounts]:
    """Per stream ID, what the ingest at `database` (a file path, or a postgresql:// DSN) holds."""
    if database.startswith(("postgresql://", "postgres://")):
        import psycopg

        with psycopg.connect(database) as conn:
            rows = conn.execute(PER_STREAM).fetchall()
    else:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
            rows = conn.execute(PER_STREAM).fetchall()
    return {str(stream): StreamCounts(int(n), int(distinct), int(top)) for stream, n, distinct, top in rows}
