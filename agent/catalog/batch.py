"""Bulk inserts for a snapshot load on a second thread, so parsing overlaps inserting.

Parsing and validating JSON is Python and holds the GIL; SQLite releases the GIL while it steps an
insert. With the two on separate threads a load costs about the slower of the two rather than their sum,
which is what keeps a verified import close to a bare executemany (bench/catalog.py).
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from types import TracebackType
from typing import Any

from agent.catalog.fields import CatalogLineError
from agent.catalog.lines import Record

BATCH_ROWS = 5000
QUEUE_DEPTH = 4     # batches in flight: bounds memory whatever the snapshot size

Rows = dict[str, list[tuple[Any, ...]]]
Lines = dict[str, list[int]]


class BatchWriter:
    """Collects rows per table with their line numbers; a worker thread inserts full batches in order."""

    def __init__(self, conn: sqlite3.Connection, inserts: dict[str, str], child_table: dict[str, str]) -> None:
        self._conn = conn
        self._inserts = inserts
        self._child_table = child_table
        self._queue: queue.Queue[tuple[Rows, Lines] | None] = queue.Queue(maxsize=QUEUE_DEPTH)
        self._error: BaseException | None = None
        self._rows, self._lines = self._empty()
        self._pending = 0
        self._thread = threading.Thread(target=self._run, name="catalog-load", daemon=True)
        self._thread.start()

    def _empty(self) -> tuple[Rows, Lines]:
        return {name: [] for name in self._inserts}, {name: [] for name in self._inserts}

    def add(self, record: Record, line: int) -> None:
        self._rows[record.kind].append(record.row)
        self._lines[record.kind].append(line)
        if record.children:
            child = self._child_table[record.kind]
            self._rows[child].extend(record.children)
            self._lines[child].extend([line] * len(record.children))
        self._pending += 1
        if self._pending >= BATCH_ROWS:
            self._ship()

    def _ship(self) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put((self._rows, self._lines))
        self._rows, self._lines = self._empty()
        self._pending = 0

    def finish(self) -> None:
        """Insert what is left and wait; raise the first insert error (naming its line)."""
        self._ship()
        self._stop()
        if self._error is not None:
            raise self._error

    def _stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._insert(*item)
                except BaseException as exc:  # handed to the loading thread by _ship/finish
                    self._error = exc

    def _insert(self, rows: Rows, lines: Lines) -> None:
        for name, batch in rows.items():
            if batch:
                before = self._conn.total_changes
                try:
                    self._conn.executemany(self._inserts[name], batch)
                except sqlite3.IntegrityError as exc:
                    line = lines[name][self._conn.total_changes - before]
                    raise CatalogLineError(line, f"duplicate or conflicting {name} ({exc})") from None
