"""The supervised catalog component: polls the cloud for snapshots, applies MQTT deltas, reports staleness.

Selling never waits for it: lookups read the local catalog whatever state this component is in. When the
catalog is older than `max_age_s` (or absent) health says degraded and why, and the offline policy in the
catalog decides what the lane may still do.

Wiring (agent/app.py):
    catalog = await asyncio.to_thread(CatalogDb.open, config.agent.state_dir)
    sync = build_catalog_sync(config.catalog, catalog)
    supervisor.start("catalog", sync.run, probe=sync.probe)
    build_sync(..., on_catalog_delta=sync.apply_delta)  # MQTT `{prefix}/{store}/catalog`
    sync.request_pull()                               # the cloud's `catalog.refresh` command
    ... on stop, after the supervisor: await asyncio.to_thread(catalog.close)
"""

from __future__ import annotations

import asyncio
import logging
import random
from pathlib import Path
from typing import Any

from agent.catalog.db import CatalogDb
from agent.catalog.delta import Delta, Outcome, apply_delta_tx, current_version, parse_delta
from agent.catalog.fields import CatalogLineError
from agent.catalog.load import OlderSnapshot
from agent.catalog.pull import SnapshotClient, Transport
from agent.catalog.settings import CatalogSection
from agent.catalog.worker import load_in_worker
from agent.clock import Clock, SystemClock
from agent.errors import AgentError
from agent.health import ComponentHealth, State

logger = logging.getLogger(__name__)

DOWNLOAD = "catalog-snapshot.download"
MAX_PENDING_DELTAS = 256


class CatalogSync:
    """Keeps the catalog fresh; one pull or delta at a time, so versions move in order."""

    def __init__(self, catalog: CatalogDb, client: SnapshotClient | None, *, max_age_s: float,
                 poll_interval_s: float, check_interval_s: float = 60.0, retry_first_s: float = 30.0,
                 clock: Clock | None = None) -> None:
        self.catalog = catalog
        self.client = client
        self.max_age_s = max_age_s
        self.poll_interval_s = poll_interval_s
        self.check_interval_s = check_interval_s
        self.retry_first_s = retry_first_s
        self.clock = clock or SystemClock()
        self.health = ComponentHealth("catalog", probe=self.probe)
        self.last_error: str | None = None
        self._lock = asyncio.Lock()
        self._pull_now = asyncio.Event()
        self._pending: dict[int, Delta] = {}
        self._pulling = False
        self._failures = 0

    @property
    def pulling(self) -> bool:
        """A snapshot pull is in progress (deltas that arrive meanwhile are held, not applied)."""
        return self._pulling

    async def run(self, health: ComponentHealth) -> None:
        """Supervisor entry point: pull now, then every `poll_interval_s`, at once after a delta gap or a request."""
        if health is not self.health:   # keep what deltas counted before the supervisor started us
            for counter, n in self.health.counters.items():
                health.count(counter, n)
        self.health = health
        next_pull = self.clock.monotonic()
        while True:
            if self.clock.monotonic() >= next_pull or self._pull_now.is_set():
                self._pull_now.clear()   # also without a client, or the wait below would spin
                await self.pull()
                next_pull = self.clock.monotonic() + self._next_pull_in()
            await self._follow_pointer()
            self.report()
            wait_s = min(self.check_interval_s, max(0.0, next_pull - self.clock.monotonic()))
            await self._wait_for_request(wait_s)

    def probe(self) -> dict[str, Any]:
        """Health details: the catalog's status (version, age, counts, source)."""
        return self.catalog.status().as_dict()

    async def _wait_for_request(self, wait_s: float) -> None:
        """Until a pull is asked for or `wait_s` passes on the injected clock (a fake one in tests)."""
        request = asyncio.ensure_future(self._pull_now.wait())
        timer = asyncio.ensure_future(self.clock.sleep(wait_s))
        try:
            await asyncio.wait({request, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (request, timer):
                task.cancel()
            await asyncio.gather(request, timer, return_exceptions=True)

    def _next_pull_in(self) -> float:
        """`poll_interval_s`, or sooner after failures (30 s doubling, with jitter) so a lane that
        started without a catalog does not wait an hour for the uplink to come back."""
        if self.last_error is None:
            self._failures = 0
            return self.poll_interval_s
        self._failures += 1
        delay = min(self.poll_interval_s, self.retry_first_s * 2.0 ** (self._failures - 1))
        return delay * random.uniform(0.8, 1.0)

    async def _follow_pointer(self) -> None:
        """Pick up a catalog that `omo-edge catalog import` installed, or drop one `omo-edge catalog reset`
        forgot (then pull at once); never in the middle of a delta."""
        async with self._lock:
            try:
                moved = await asyncio.to_thread(self.catalog.follow_pointer)
            except AgentError as exc:
                self._failed(str(exc))
                return
        if moved and not self.catalog.status().loaded:
            self.request_pull()

    async def follow_pointer_once(self) -> None:
        """What `run` does every `check_interval_s` about the pointer (for tests and the shell)."""
        await self._follow_pointer()

    @property
    def pull_requested(self) -> bool:
        return self._pull_now.is_set()

    def report(self) -> None:
        """Set health from the catalog's age: degraded (selling goes on) when stale or absent."""
        status = self.catalog.status()
        pulled = f"last pull failed: {self.last_error}" if self.last_error else "last pull ok"
        if not status.loaded:
            self.health.degraded(f"no catalog loaded yet: items are unknown and the offline policy defaults "
                                 f"apply ({pulled})")
        elif status.age_s is not None and status.age_s > self.max_age_s:
            self.health.degraded(f"catalog version {status.version} is {status.age_s / 3600:.1f} h old, more "
                                 f"than max_age_s={self.max_age_s:g}: selling goes on under the offline policy "
                                 f"({pulled})")
        elif not status.from_cloud and self.client is not None:
            self.health.degraded(f"catalog version {status.version} is {status.provenance()} ({pulled})")
        else:
            # ok; a lane without [catalog] url sells from hand imports, and says so
            self.health.set(State.OK, "" if status.from_cloud else f"catalog version {status.version} is "
                            f"{status.source_label()} (no [catalog] url: no pulls)")
        self.health.details["last_error"] = self.last_error

    async def pull(self) -> None:
        """One snapshot pull; any failure is recorded and leaves the current catalog serving."""
        if self.client is None:
            return
        async with self._lock:
            dest = self.catalog.state_dir / DOWNLOAD
            self._pulling = True
            try:
                await self._pull_locked(self.client, dest)
            except OlderSnapshot as exc:
                if exc.offered == exc.current:   # a full body of what we have: current, and the ETag is honest
                    await self._touch(full=True)
                    self._succeeded()
                else:
                    self._failed(str(exc))
            except AgentError as exc:
                self._failed(str(exc))
            finally:
                self._pulling = False
                dest.unlink(missing_ok=True)
            await self._drain()

    async def _pull_locked(self, client: SnapshotClient, dest: Path) -> None:
        fetched = await client.fetch(dest, self._etag_to_send())
        self.health.count("pulls")
        if fetched.not_modified:
            self.health.count("not_modified")
            await self._touch()
        else:
            self.health.details["last_load"] = await load_in_worker(self.catalog, dest, fetched.etag)
            self.health.count("snapshots_loaded")
        self._succeeded()

    def _etag_to_send(self) -> str | None:
        """The ETag for If-None-Match, unless no full body came for `max_age_s`.

        A server whose ETag is stuck would answer 304 for ever and keep an old catalog looking fresh; one
        unconditional pull per `max_age_s` catches that at the cost of one download.
        """
        status = self.catalog.status()
        full_at = float(self.catalog.meta_value("full_at") or status.loaded_at or 0)
        return status.etag if status.loaded and self.clock.time() - full_at < self.max_age_s else None

    async def _touch(self, *, full: bool = False) -> None:
        """The cloud confirmed the catalog is current: it is fresh again."""
        db = self.catalog.database
        if db is not None:
            now = str(self.clock.time())
            await db.write(_set_meta, {"checked_at": now, **({"full_at": now} if full else {})})

    def _succeeded(self) -> None:
        if self.last_error is not None:
            logger.info("catalog pull recovered")
        self.last_error = None

    def _failed(self, error: str) -> None:
        self.health.count("pull_failures")
        if error != self.last_error:   # log once per distinct failure, not once per poll
            logger.warning("catalog pull failed, the current catalog keeps serving: %s", error)
        self.last_error = error

    def request_pull(self) -> None:
        """Pull a snapshot now (the cloud's `catalog.refresh` command); returns at once."""
        self._pull_now.set()

    async def apply_delta(self, payload: bytes) -> None:
        """Apply one catalog delta message (the payload of `{prefix}/{store}/catalog`); never raises for bad input.

        Applied in version order and idempotently: a duplicate is ignored; a delta after a gap is held and a
        snapshot pull is started, and held deltas are applied once the gap closes.
        """
        await self.apply(payload)

    async def apply(self, payload: bytes) -> Outcome | None:
        """`apply_delta`, returning the outcome, or None when the payload was refused (counted `deltas_rejected`)."""
        try:
            delta = parse_delta(payload)
        except CatalogLineError as exc:
            self.health.count("deltas_rejected")
            logger.warning("catalog delta refused (%s); a snapshot pull will repair what it carried", exc)
            self._pull_now.set()
            return None
        if self._pulling:
            # Never make the MQTT consumer wait minutes for a snapshot: hold the delta, apply it after.
            outcome = Outcome.HELD
        else:
            async with self._lock:
                outcome = await self._apply(delta)
                if outcome is Outcome.APPLIED:
                    await self._drain()
        if outcome in (Outcome.GAP, Outcome.HELD) and len(self._pending) < MAX_PENDING_DELTAS:
            self._pending[delta.base] = delta
        if outcome is Outcome.GAP:
            self._pull_now.set()
        self.health.count(f"deltas_{outcome}")
        return outcome

    async def _apply(self, delta: Delta) -> Outcome:
        db = self.catalog.database
        if db is None:
            return Outcome.GAP
        try:
            return await db.write(apply_delta_tx, delta, self.clock.time())
        except AgentError as exc:
            logger.warning("catalog delta %d->%d could not be written (%s); a snapshot pull will repair it",
                           delta.base, delta.version, exc)
            return Outcome.GAP

    async def _drain(self) -> None:
        """Apply held deltas that now follow on (call with the lock held)."""
        db = self.catalog.database
        while db is not None and self._pending:
            current = await db.write(current_version)
            for base in [b for b, d in self._pending.items() if d.version <= current]:
                del self._pending[base]
            ready = [d for d in self._pending.values() if d.base <= current]
            if not ready:
                return
            delta = min(ready, key=lambda d: d.base)
            del self._pending[delta.base]
            if await self._apply(delta) is Outcome.APPLIED:
                self.health.count("deltas_applied")


def _set_meta(conn: Any, values: dict[str, str]) -> None:
    conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())


def build_catalog_sync(section: CatalogSection | None, catalog: CatalogDb, *,
                       transport: Transport | None = None) -> CatalogSync:
    """The component for `[catalog]`; without that section it only reports staleness and applies deltas."""
    if section is None:
        return CatalogSync(catalog, None, max_age_s=86400, poll_interval_s=3600)
    client = SnapshotClient(section.url, token_file=section.token_file, deadline_s=section.deadline_s,
                            transport=transport)
    return CatalogSync(catalog, client, max_age_s=section.max_age_s, poll_interval_s=section.poll_interval_s)
