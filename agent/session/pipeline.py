"""The one consumer of scans: every device's ScanEvent passes here, in arrival order, one at a time.

interpret (pure) → look up the offline catalog (no network) → one lane.db transaction that checks the token
replay cache and records the scan with its outbox row → only then tell the screen and wake the relay.
Nothing here logs or stores a full payment code or a token signature: only the meaning's safe `text`.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from agent.catalog.db import CatalogDb
from agent.clock import SYSTEM_CLOCK, Clock, rfc3339_ms
from agent.errors import StoreError
from agent.health import NOBODY, ComponentHealth, Observers
from agent.interpret.meanings import Meaning
from agent.interpret.router import interpret, interpret_event, replay_rejected
from agent.interpret.rules import Rules
from agent.session.checkout import Checkout
from agent.session.controller import SessionController
from agent.session.offline import DEFAULT_MAX_AGE_S, is_stale
from agent.session.pickup_handover import Pickups
from agent.session.records import scans, seen_tokens
from agent.session.rules.scan_changes import Facts, ScanContext
from agent.session.rules.visit_change import Change
from agent.session.scan_kinds import Kind, Lookups, Started, kind_of
from agent.store import Database
from agent.sync import outbox
from agent.sync.event_ids import new_event_id
from drivers.base import ScanEvent

logger = logging.getLogger(__name__)

SCAN_PRIORITY = outbox.SCHEMAS["omo.scan/1"][1]
KEYPAD = "keypad"                   # the device a code typed on the screen is recorded as


# What the session tells the screen after each committed change; the composition root wires it to the API's
# event hub, so the session never imports the HTTP server (an import-linter contract checks it).
Notify = Callable[[dict[str, Any]], None]
# A recorded scan's fields and the seconds from its frame to its commit; the composition root wires it to the
# metrics (agent/api/metrics.py), so nothing here imports prometheus_client.
ObserveScan = Callable[[Mapping[str, Any], float], None]


class Pipeline:
    """Turns scans into recorded, announced events."""

    def __init__(self, *, rules: Rules, lane_db: Database, catalog: CatalogDb | None, notify: Notify,
                 health: ComponentHealth, clock: Clock | None = None,
                 clock_trusted: Callable[[], bool] = lambda: True,
                 on_recorded: Callable[[int], None] = lambda priority: None,
                 session: SessionController | None = None, pickups: Pickups | None = None,
                 checkout: Checkout | None = None, observers: Observers = NOBODY,
                 on_idle: Callable[[], None] = lambda: None, max_catalog_age_s: float = DEFAULT_MAX_AGE_S) -> None:
        self._rules = rules
        self._lane_db = lane_db
        self._catalog = catalog
        self._notify = notify               # tells the screen; only ever after the commit
        self._health = health
        self._clock = clock or SYSTEM_CLOCK
        self.clock_trusted = clock_trusted    # asked per scan: NTP may sync (or lose sync) while the lane runs
        self.on_recorded = on_recorded       # wakes the outbox relay after each commit
        self.observe_scan: ObserveScan = observers.scan
        self.session_id: str | None = None   # the session issue sets this while a shopper is at the lane
        self.lane_open = True
        self.max_catalog_age_s = max_catalog_age_s      # past this the offline policy applies ([catalog] max_age_s)
        self.session = session                # the visit; None records scans only (tools and older tests)
        self.pickups = pickups                # online orders from a locker; None: sent to the service counter
        self.checkout = checkout              # pays for the visit when a wallet code is scanned
        self._tasks: set[asyncio.Task[Any]] = set()
        self.in_flight = 0                    # scans between their frame and their commit (the API's fan-out waits)
        self.on_idle = on_idle               # in_flight back to 0 (the fan-out resumes at once)

    def set_open(self, lane_open: bool) -> None:
        """The cloud opens or closes the lane; a closed lane records scans as refused and says why."""
        self.lane_open = lane_open
        if lane_open:
            self._health.ok()
        else:
            self._health.degraded("lane closed by the cloud (lane.close); scans are refused until lane.open")
        self._notify({"type": "lane", "open": lane_open})

    async def on_scan(self, event: ScanEvent) -> None:
        await self.handle(event)

    async def manual_entry(self, code: str) -> Change | None:
        """A code typed on the screen's keypad, interpreted and recorded exactly like a scan."""
        data = code.encode("utf-8", "replace")
        return await self.handle(ScanEvent(device=KEYPAD, symbology="unknown", data=data, text=code, raw=data,
                                           received_at=self._clock.time(), monotonic=self._clock.monotonic()))

    def interpret_text(self, text: str) -> Meaning:
        """What a code given as text means (staff tokens on the API), verified offline like a scan."""
        return interpret("qr", text, text.encode("utf-8", "replace"), self._rules, self._clock.now(),
                         clock_synced=self.clock_trusted())

    async def handle(self, event: ScanEvent) -> Change | None:
        """Interpret, record and announce one scan; returns the change it made to the visit, if any."""
        self.in_flight += 1
        try:
            return await self._handle(event)
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self.on_idle()

    async def _handle(self, event: ScanEvent) -> Change | None:
        synced = self.clock_trusted()
        local = self._clock.now()       # one reading: the date an expiry is judged by is the date lines keep
        meaning = interpret_event(event, self._rules, local, clock_synced=synced)
        # clock_trusted false: an app token was checked with the loose allowance and occurred_at may be off.
        fields = {"device": event.device, "symbology": event.symbology,
                  "occurred_at": rfc3339_ms(datetime.fromtimestamp(event.received_at, UTC)),
                  "session_id": self.session_id, **meaning.event_fields(), "clock_trusted": synced}
        if event.addon:
            fields["addon"] = event.addon   # a book's or magazine's add-on; the GTIN stays the product key
        kind = kind_of(meaning)
        facts = kind.facts(meaning, self._lookups())     # read once, before the change
        if event.device == KEYPAD:
            facts = replace(facts, keyed=True)
        display = self._display(kind, meaning, facts, fields)
        if not self.lane_open:
            fields.update(outcome="rejected", reason="lane_closed")
        change: Change | None = None
        try:
            if self.session is not None and self.lane_open:
                # Committed by the controller with the visit's change; it wakes the relay once for both.
                change, (event_id, seq, fields) = await self._in_session(kind, meaning, facts, fields, synced,
                                                                         local.date())
            else:
                event_id, seq, fields = await self._lane_db.write(self._record, meaning, fields)
                self.on_recorded(SCAN_PRIORITY)
        except StoreError as exc:
            self._refused(fields, exc)
            return None
        self.observe_scan(fields, max(0.0, self._clock.monotonic() - event.monotonic))
        self._health.count(f"scans_{fields['kind']}")
        if self._health.state != "ok" and self.lane_open:
            self._health.ok()
        logger.info("scan device=%s kind=%s outcome=%s text=%s seq=%s", fields["device"], fields["kind"],
                    fields["outcome"], fields["text"], seq)
        self._notify({"type": "scan", "event_id": event_id, "seq": seq, **fields, **display})
        return change

    async def _in_session(self, kind: Kind[Any], meaning: Meaning, facts: Facts, fields: dict[str, Any],
                          synced: bool, today: date) -> tuple[Change, tuple[str, int, dict[str, Any]]]:
        """The scan and the change its kind's rule makes to the visit, committed together; then what the kind
        starts (a wallet code's payment, a pickup's handover)."""
        session = self.session
        assert session is not None
        ctx = ScanContext(settings=session.settings, now=self._clock.time(), new_id=new_event_id, clock_synced=synced,
                          today=today)
        committed = await session.apply(lambda current: kind.change(current, meaning, facts, ctx), scan_fields=fields)
        assert committed.scan is not None
        if kind.after is not None:
            pay = self._start_payment if self.checkout is not None else None
            kind.after(meaning, facts, Started(session, committed, self.pickups, pay))
        return committed.change, committed.scan

    def _start_payment(self, code: str) -> None:
        assert self.checkout is not None
        task = asyncio.create_task(self.checkout.pay("wallet_code", code))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def payments_started(self) -> list[asyncio.Task[Any]]:
        """Payments started by a scanned wallet code and not finished yet (a test or the demo waits for them)."""
        return list(self._tasks)

    def _lookups(self) -> Lookups:
        """What a kind may read for its facts, as the pipeline is at this scan (lookups never touch the network)."""
        return Lookups(catalog=self._catalog, session=self.session, pickups=self.pickups, stale=self._stale)

    def points_redemption_allowed(self) -> bool:
        """A fresh catalog's balance may be spent; a stale one only if the offline policy says so."""
        if self._catalog is None:
            return False
        return not self._stale() or self._catalog.policy().points_redemption

    def _stale(self) -> bool:
        assert self._catalog is not None
        return is_stale(self._catalog, self.max_catalog_age_s)

    def _display(self, kind: Kind[Any], meaning: Meaning, facts: Facts, fields: dict[str, Any]) -> dict[str, Any]:
        """Catalog facts for the screen; the outcome and reason may change (unknown item, age check)."""
        if self._catalog is None or kind.display is None:
            return {}
        outcome, display = kind.display(meaning, facts)
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
