"""The one consumer of scans: every device's ScanEvent passes here, in arrival order, one at a time.

interpret (pure) → look up the offline catalog (no network) → one lane.db transaction that checks the token
replay cache and records the scan with its outbox row → only then tell the screen and wake the relay.
Nothing here logs or stores a full payment code or a token signature: only the meaning's safe `text`.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from agent.catalog.db import CatalogDb
from agent.clock import SYSTEM_CLOCK, Clock, rfc3339_ms
from agent.errors import StoreError
from agent.health import ComponentHealth
from agent.interpret.meanings import Meaning, Member, Product
from agent.interpret.router import interpret_event, replay_rejected
from agent.interpret.rules import Rules
from agent.session import scans, seen_tokens
from agent.session.outcome import member_fields, product_fields
from agent.store import Database
from agent.sync import outbox
from drivers.base import ScanEvent

logger = logging.getLogger(__name__)

SCAN_PRIORITY = outbox.SCHEMAS["omo.scan/1"][1]


# What the session tells the screen after each committed change; the composition root wires it to the API's
# event hub, so the session never imports the HTTP server (an import-linter contract checks it).
Notify = Callable[[dict[str, Any]], None]


class Pipeline:
    """Turns scans into recorded, announced events."""

    def __init__(self, *, rules: Rules, lane_db: Database, catalog: CatalogDb | None, notify: Notify,
                 health: ComponentHealth, clock: Clock | None = None, clock_synced: bool = True,
                 on_recorded: Callable[[int], None] = lambda priority: None) -> None:
        self._rules = rules
        self._lane_db = lane_db
        self._catalog = catalog
        self._notify = notify               # tells the screen; only ever after the commit
        self._health = health
        self._clock = clock or SYSTEM_CLOCK
        self._clock_synced = clock_synced
        self.on_recorded = on_recorded       # wakes the outbox relay after each commit
        self.session_id: str | None = None   # the session issue sets this while a shopper is at the lane
        self.lane_open = True

    def set_open(self, lane_open: bool) -> None:
        """The cloud opens or closes the lane; a closed lane records scans as refused and says why."""
        self.lane_open = lane_open
        if lane_open:
            self._health.ok()
        else:
            self._health.degraded("lane closed by the cloud (lane.close); scans are refused until lane.open")
        self._notify({"type": "lane", "open": lane_open})

    async def on_scan(self, event: ScanEvent) -> None:
        meaning = interpret_event(event, self._rules, self._clock.now(), clock_synced=self._clock_synced)
        fields = {"device": event.device, "symbology": event.symbology,
                  "occurred_at": rfc3339_ms(datetime.fromtimestamp(event.received_at, UTC)),
                  "session_id": self.session_id, **meaning.event_fields()}
        display = self._look_up(meaning, fields)
        if not self.lane_open:
            fields.update(outcome="rejected", reason="lane_closed")
        try:
            event_id, seq, fields = await self._lane_db.write(self._record, meaning, fields)
        except StoreError as exc:
            self._refused(fields, exc)
            return
        self._health.count(f"scans_{fields['kind']}")
        if self._health.state != "ok" and self.lane_open:
            self._health.ok()
        self.on_recorded(SCAN_PRIORITY)
        logger.info("scan device=%s kind=%s outcome=%s text=%s seq=%s", fields["device"], fields["kind"],
                    fields["outcome"], fields["text"], seq)
        self._notify({"type": "scan", "event_id": event_id, "seq": seq, **fields, **display})

    def _look_up(self, meaning: Meaning, fields: dict[str, Any]) -> dict[str, Any]:
        """Catalog facts for the screen; the outcome and reason may change (unknown item, age check)."""
        if self._catalog is None:
            return {}
        if isinstance(meaning, Product):
            outcome, display = product_fields(meaning, self._catalog.product(meaning.gtin14))
        elif isinstance(meaning, Member):
            outcome, display = member_fields(meaning, self._catalog)
        else:
            return {}
        fields.update(outcome)
        return display

    def _record(self, conn: sqlite3.Connection, meaning: Meaning,
                fields: dict[str, Any]) -> tuple[str, int, dict[str, Any]]:
        claims = getattr(meaning, "claims", None)
        if claims is not None and seen_tokens.claim(conn, claims, self.session_id, self._clock.time(),
                                                          self._rules.max_skew_s):
            fields = {**fields, **replay_rejected(meaning).event_fields()}
        event_id, seq = scans.record_scan(conn, fields)
        return event_id, seq, fields

    def _refused(self, fields: dict[str, Any], exc: StoreError) -> None:
        """The scan could not be recorded: the shopper must see it did not count, and store IT why."""
        self._health.count("scans_not_recorded")
        self._health.degraded(f"scans cannot be recorded: {exc}")
        logger.error("scan not recorded device=%s kind=%s: %s", fields["device"], fields["kind"], exc)
        self._notify({"type": "scan_refused", "device": fields["device"], "kind": fields["kind"],
                           "detail": f"this scan was not recorded: {exc}"})
