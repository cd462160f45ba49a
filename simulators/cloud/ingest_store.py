"""What the reference ingest asks of its database: store a batch, commit, say each stream's seq mark.

The MQTT side (`ingest.py`) parses events and publishes acks; an `EventStore` keeps the events with
de-duplication by event_id and owns the per-stream marks. Two implementations: SQLite (`ingest_sqlite.py`,
a file, the zero-set-up default) and PostgreSQL (`ingest_postgres.py`, a DSN; marks kept in the database so
that several ingest processes can acknowledge any lane). The ingest (`ingest.py`) picks one with `is_dsn`:
this module names neither implementation, so both import it and it imports neither.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

Stream = tuple[str, str, str]   # (store_id, lane_id, stream_id): one lane.db's seq counter


class Event(NamedTuple):
    """One received event, in the events table's column order (so a row is the tuple itself)."""

    event_id: str
    store_id: str
    lane_id: str
    seq: int
    seq_end: int        # above `seq` only for an `omo.shed/1` event covering a run of seqs
    schema: str
    payload: str
    received_at: float
    stream_id: str

    @property
    def stream(self) -> Stream:
        return (self.store_id, self.lane_id, self.stream_id)


@dataclass(frozen=True, slots=True)
class Mark:
    """A stream's seq marks around one committed batch, for its ack.

    `held_before`: every seq up to it was committed before this batch (events of the batch at or below it
    were sent again, or come from another copy of lane.db: the ack names them). `hwm`: every seq up to it is
    committed now. `reused_up_to`: seqs up to it were written by two copies of the lane's database (0: never).
    """

    held_before: int
    hwm: int
    reused_up_to: int = 0


class EventStore(Protocol):
    def store(self, events: Sequence[Event]) -> dict[Stream, Mark]:
        """Insert the events not held yet and commit; returns the mark of every stream in the batch.

        Returns only after the commit: an ack built from the result never claims more than the database holds.
        """

    def close(self) -> None: ...


def is_dsn(target: str) -> bool:
    """A PostgreSQL connection string (URL or libpq key=value) rather than a SQLite file path."""
    return target.startswith(("postgresql://", "postgres://")) or re.match(r"\s*\w+\s*=", target) is not None

