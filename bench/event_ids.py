"""Cost of storing events keyed by event ID, random (uuid4) against time-ordered (agent's UUIDv7).

    .venv/bin/python bench/event_ids.py [--events 200000] [--batch 40]

Inserts the same events into the reference ingest's schema (simulators/cloud/ingest.py: a unique index on
`event_id`), `--batch` per transaction as its group commit does during a drain, WAL with
synchronous=NORMAL. Prints CPU and wall time per event for each kind of ID, and their ratio.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.sync.event_ids import new_event_id  # noqa: E402
from simulators.cloud.ingest_sqlite import SCHEMA  # noqa: E402

PAYLOAD = "x" * 330   # about a scan event's JSON


def store(new_id: Callable[[], str], events: int, batch: int, work: Path) -> tuple[float, float]:
    """(CPU us, wall us) per event for inserting `events` rows with IDs from `new_id`."""
    conn = sqlite3.connect(work / "ingest.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript(SCHEMA)
    stream = str(uuid.uuid4())
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, events, batch):
        rows = [(new_id(), "store-001", "lane-01", seq, seq, "omo.scan/1", PAYLOAD, time.time(), stream)
                for seq in range(start + 1, start + batch + 1)]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    conn.close()
    return cpu / events * 1e6, wall / events * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=40, help="events per transaction")
    args = parser.parse_args()
    figures = {}
    for name, new_id in (("uuid4 (random)", lambda: str(uuid.uuid4())), ("UUIDv7 (time-ordered)", new_event_id)):
        with tempfile.TemporaryDirectory(prefix="omo-ids-") as work:
            figures[name] = store(new_id, args.events, args.batch, Path(work))
        print(f"{name}: {figures[name][0]:.1f} us CPU, {figures[name][1]:.1f} us wall per event "
              f"({args.events:,} events, {args.batch} per commit)")
    (cpu4, wall4), (cpu7, wall7) = figures.values()
    print(f"ratio UUIDv7 / uuid4: CPU {cpu7 / cpu4:.2f}, wall {wall7 / wall4:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
