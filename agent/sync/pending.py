"""The relay's reading of the outbox: pending rows ahead of the window, from a cursor a rewind resets."""

from __future__ import annotations

from collections import deque

from agent.store import Database
from agent.sync import outbox

CURSOR_START = (-1, 0)
READ_AHEAD = 100


class PendingReader:
    """Pending rows read ahead of the window, in drain order, from a cursor that a rewind moves back to the start.

    Why ahead of the window: one query per ten publishes was a fifth of the loop thread's time during a drain.
    A rewind (a sale behind scans, a reconnect, a timeout) drops what was read ahead.
    """

    def __init__(self, db: Database, window: int) -> None:
        self.db, self.window = db, window
        self.cursor = CURSOR_START
        self.ahead: deque[outbox.Row] = deque()

    def read(self, claimed: set[int]) -> bool:
        """Read the next READ_AHEAD pending rows past the cursor; False when there are none."""
        extra = min(len(claimed), 4 * self.window) if self.cursor == CURSOR_START else 0
        rows = outbox.pending(self.db.reader(), self.cursor, READ_AHEAD + extra)
        if not rows:
            return False
        self.cursor = (rows[-1].priority, rows[-1].id)
        self.ahead.extend(row for row in rows if row.id not in claimed)
        return True

    def rewind(self) -> None:
        """Read again from the first pending row: what was read ahead may be stale or behind a sale."""
        self.cursor = CURSOR_START
        self.ahead.clear()
