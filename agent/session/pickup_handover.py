"""Hands online orders over at the lane: claims the order in lane.db, has the locker open its compartment, and
records how it went; each step commits with its `omo.pickup/1` event before the screen is told.

The pipeline commits the scan first (accepted, "Opening compartment ..."), then `start` runs the rest as a
task so the scanner is never held while a door unlatches: the claim (`processing`), the locker's answer
within `[pickup] open_timeout_s`, then `collected` or `failed` with the reason. The rules are pure, in
`agent/session/rules/pickup_rules.py`; the table is `agent/session/records/pickup_claims.py`. Nothing here
needs the network: a claim made offline is recorded the same way, and the outbox carries it when the uplink is back.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from agent.catalog.db import CatalogDb
from agent.clock import SYSTEM_CLOCK, Clock
from agent.errors import ConfigError, StoreError
from agent.health import ComponentHealth
from agent.interpret.meanings import PickupOrder
from agent.session.controller import SessionController
from agent.session.records import pickup_claims
from agent.session.rules import pickup_rules
from agent.session.rules.basket import Prompt
from agent.session.rules.pickup_rules import Claim, PickupFacts, Plan, Refused
from agent.session.settings import PickupSection
from agent.store import Database
from agent.sync import outbox
from agent.sync.event_ids import new_event_id
from drivers import lockers
from drivers.base import DriverOptionError
from drivers.lockers import Locker, LockerError

logger = logging.getLogger(__name__)
PRIORITY = outbox.SCHEMAS[pickup_rules.SCHEMA][1]
NOT_RECORDED = Prompt("pickup_not_recorded", "This pickup could not be recorded, so the locker stays shut. "
                      "Please ask a member of staff.", "error")


def build_locker(section: PickupSection) -> Locker | None:
    """The locker `[pickup] locker` names (None for "none"); ConfigError naming the key when it cannot be built."""
    if section.locker == "none":
        return None
    try:
        return lockers.create(section.locker, section.driver_options)
    except (lockers.UnknownLocker, DriverOptionError, ImportError) as exc:
        raise ConfigError(f"{exc}. Fix: check the locker's name and options, or install its package",
                          key="[pickup] locker") from exc


class Pickups:
    """The lane's pickup desk: one locker, the claims in lane.db, the collections in flight."""

    def __init__(self, *, lane_db: Database, locker: Locker, settings: PickupSection, health: ComponentHealth,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.lane_db, self.locker, self.settings, self.health, self.clock = lane_db, locker, settings, health, clock
        self._tasks: set[asyncio.Task[Any]] = set()

    def facts(self, order_id: str, catalog: CatalogDb | None, stale: bool) -> PickupFacts:
        """What the catalog and this lane's claims say about the order (no network, no write)."""
        order = None if catalog is None else catalog.order(order_id)
        version = 0 if catalog is None else catalog.status().version
        claim = pickup_claims.get(self.lane_db.reader(), order_id)
        return PickupFacts(order, claim, stale, version, self.settings.compartments)

    def start(self, session: SessionController, meaning: PickupOrder, facts: PickupFacts) -> None:
        """After the accepted scan is committed: claim, open and record in a task of its own."""
        decided = pickup_rules.plan(session.session, meaning, facts)
        if isinstance(decided, Refused):     # the visit changed since the scan was accepted: nothing to open
            return
        task = asyncio.create_task(self.collect(session, decided), name=f"pickup:{decided.order_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Stop the pickups in flight (the lane is stopping): a claim left `processing` fails at the next start."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def settled(self) -> None:
        """Wait for every collection in flight (tests, and a clean stop)."""
        while self._tasks:
            await asyncio.gather(*self._tasks)

    async def collect(self, session: SessionController, decided: Plan) -> Claim | None:
        """Claim the order, open its door, record the outcome; None when the claim was refused or not recorded."""
        try:
            claimed = await self.lane_db.write(pickup_claims.begin, decided, new_event_id(), self.locker.name,
                                               self.clock.time())
        except StoreError as exc:   # a claim lane.db does not hold must not open a door (nor be reported)
            self._not_recorded(decided.order_id, exc)
            await self._show(session, NOT_RECORDED)
            return None
        session.on_recorded(PRIORITY)
        if isinstance(claimed, Refused):
            await self._show(session, Prompt(claimed.code, claimed.message, "warning"))
            return None
        done = pickup_rules.finished(claimed, await self._open(claimed.compartment))
        try:
            await self.lane_db.write(pickup_claims.record, done, self.locker.name, self.clock.time())
            session.on_recorded(PRIORITY)
        except StoreError as exc:   # the door did what it did; the claim stays `processing`, failed at next start
            self._not_recorded(done.order_id, exc)
        self.health.count(f"pickups_{done.state}")
        logger.info("pickup order=%s compartment=%s state=%s reason=%s attempt=%d offline=%s", done.order_id,
                    done.compartment, done.state, done.reason, done.attempt, done.offline)
        await self._show(session, pickup_rules.result_prompt(done))
        return done

    def _not_recorded(self, order_id: str, exc: StoreError) -> None:
        self.health.degraded(f"pickups cannot be recorded: {exc}")
        logger.error("pickup order=%s not recorded: %s", order_id, exc)

    async def _show(self, session: SessionController, prompt: Prompt) -> None:
        """Put the pickup's outcome on the screen (the session commits the prompt; a failing disk is in health)."""
        try:
            await session.apply(lambda s: pickup_rules.announce(s, prompt))
        except StoreError as exc:
            logger.error("pickup prompt %s not shown: %s", prompt.code, exc)

    async def _open(self, compartment: str) -> str | None:
        """Ask the locker to open the door: None once it is open, else the reason it is not."""
        try:
            async with asyncio.timeout(self.settings.open_timeout_s):
                await self.locker.open(compartment)
        except LockerError as exc:
            self.health.degraded(f"locker {self.locker.name}: {exc} ({exc.fault}); check the locker, then the "
                                 "shopper scans the order again")
            return str(exc.fault)
        except TimeoutError:
            self.health.degraded(f"locker {self.locker.name} did not answer within {self.settings.open_timeout_s} s;"
                                 " check its power and cable")
            return "timeout"
        except Exception:   # noqa: BLE001 - a driver's bug must fail this pickup, not the lane
            logger.exception("locker %s failed opening compartment %s", self.locker.name, compartment)
            self.health.degraded(f"locker {self.locker.name} raised an unexpected error; see the log")
            return "failed"
        self.health.ok()
        return None

    async def recover(self) -> list[Claim]:
        """At start: fail what a stopped lane left `processing`, so those orders may be scanned again."""
        interrupted: list[Claim] = await self.lane_db.write(pickup_claims.interrupt, self.locker.name,
                                                            self.clock.time())
        for claim in interrupted:
            logger.warning("pickup order=%s compartment=%s was interrupted by a restart; it may be scanned again",
                           claim.order_id, claim.compartment)
        self.health.ok()
        return interrupted
