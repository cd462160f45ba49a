"""The bagging-area scale at the lane (the I/O shell over rules.py): it reads the scale, hears the visit's
committed changes, and raises the calls and prompts through the visit's port.

Why a supervised component of its own: the scale is a device that may go away at any time, and the lane must
keep selling when it does. While the scale is unplugged, silent, or in motion longer than
`motion_timeout_s`, the component `scale` is degraded (the lane's health says "no weight check") and the
watch raises nothing; when it settles again the bag as it is becomes the baseline.

The controller tells the watcher of every committed change through a plain callback (`on_change`, wired by
app.py), called under the controller's lock: it only queues the visit, and the watcher's own loop applies it
before the next reading, so a scan is always known before the weight it causes is judged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agent.bagging import rules
from agent.bagging.calls import place_prompt, raise_call
from agent.bagging.rules import Action, Bag, Call, Expected, PlacePrompt, Sample
from agent.bagging.settings import MG_PER_G, BaggingSection
from agent.health import ComponentHealth
from agent.session.rules.basket import Session
from agent.session.rules.machine import SessionState
from agent.session.rules.visit_change import Change
from agent.session.visit_port import VisitPort
from drivers.base import DeviceUnavailable
from drivers.scales import Reading, Scale, open_scale

logger = logging.getLogger(__name__)
ENDED = (SessionState.IDLE, SessionState.PAID, SessionState.CANCELLED, SessionState.ABANDONED)
RETRY_S = 2.0


@dataclass(frozen=True, slots=True)
class ItemWeight:
    """What the lane knows of a product's weight: the catalog's, else a learned one (None: unknown)."""

    weight_mg: int | None
    tolerance_mg: int | None = None
    exempt: bool = False


Lookup = Callable[[str], ItemWeight]
OnSample = Callable[[Sample], Awaitable[None]]
OnCall = Callable[[Call, float], None]        # the call and the seconds from its reading to its commit


def unknown(_gtin: str) -> ItemWeight:
    return ItemWeight(None)


class BaggingWatcher:
    """One lane's bag. `open` builds the scale (drivers.scales.open_scale by default)."""

    def __init__(self, *, settings: BaggingSection, visit: VisitPort, lookup: Lookup = unknown,
                 on_sample: OnSample | None = None, on_call: OnCall = lambda call, seconds: None,
                 open_device: Callable[[str, Mapping[str, Any]], Scale] = open_scale,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.settings, self.visit, self.lookup = settings, visit, lookup
        self.on_sample: OnSample = on_sample or _nothing
        self.on_call, self.open_device, self.monotonic = on_call, open_device, monotonic
        self.bag = Bag()
        self._visits: asyncio.Queue[Session] = asyncio.Queue()
        self._session_id = ""
        self._units: dict[str, int] = {}
        self._unsettled_since: float | None = None
        # Seconds from the reading that caused each recent call to its commit (bench/bagging.py reads them).
        self.latencies: deque[float] = deque(maxlen=1000)

    # -- what the lane tells the watcher -----------------------------------------------------------------------

    def on_change(self, change: Change) -> None:
        """Each committed change of the visit (under the controller's lock: queue it, decide later)."""
        self._visits.put_nowait(change.session)

    async def skip(self) -> str | None:
        """The shopper's "skip bagging" for the last item scanned; the reason it is refused (`nothing_to_skip`:
        no item waits to be bagged, `no_weight_check`: the scale is not checking now), else None."""
        self._hear_visits()
        if self.bag.degraded:
            return "no_weight_check"
        if not self.bag.pending:
            return "nothing_to_skip"
        self.bag, actions = rules.skip(self.bag, self.settings)
        await self._act(actions, self.monotonic())
        return None

    # -- the supervised component ------------------------------------------------------------------------------

    async def run(self, health: ComponentHealth) -> None:
        """Read the scale until it goes away; then no weight check (degraded), and try again."""
        scale = self.settings.scale or {}
        driver = str(scale.get("driver", ""))
        options = {k: v for k, v in scale.items() if k != "driver"}
        while True:
            try:
                async with self.open_device(driver, options) as device:
                    await self._follow(device, health)
            except DeviceUnavailable as exc:
                self._degrade(health, f"no weight check: {exc}")
            await asyncio.sleep(RETRY_S)

    async def _follow(self, device: Scale, health: ComponentHealth) -> None:
        async for reading in device.live():
            await self.reading(reading, health)

    async def reading(self, reading: Reading, health: ComponentHealth) -> None:
        """One reading: the visit's news first, then the weight, then the time."""
        self._hear_visits()
        at = reading.received_at
        if reading.stable:
            self._unsettled_since = None
            if self.bag.degraded:
                self.bag = rules.recover(self.bag)
            health.ok()
        else:
            self._unsettled_since = self._unsettled_since if self._unsettled_since is not None else at
            if at - self._unsettled_since >= self.settings.motion_timeout_s:
                self._degrade(health, "no weight check: the scale has not settled for "
                                      f"{self.settings.motion_timeout_s:g} s ({_status(reading)})")
        self.bag, weighed = rules.weighed(self.bag, reading.weight_mg, reading.stable, self.settings)
        self.bag, ticked = rules.tick(self.bag, at, self.settings)
        await self._act((*weighed, *ticked), at)

    def _degrade(self, health: ComponentHealth, reason: str) -> None:
        health.degraded(reason)
        if not self.bag.degraded:
            self.bag = rules.degrade(self.bag)

    # -- the visit's changes -----------------------------------------------------------------------------------

    def _hear_visits(self) -> None:
        while not self._visits.empty():
            self._heard(self._visits.get_nowait())

    def _heard(self, session: Session) -> None:
        if session.session_id != self._session_id or session.state in ENDED:
            if self._session_id or session.state in ENDED:
                self.bag = rules.new_visit(self.bag)
            self._session_id, self._units = session.session_id, {}
        if session.state in ENDED:
            return
        now = self.monotonic()
        for line in session.lines:
            seen = self._units.get(line.line_id, 0)
            units = 0 if line.voided else line.quantity
            self._units[line.line_id] = units
            for _ in range(units - seen):
                self.bag = rules.scanned(self.bag, self._expected(line.line_id, line.gtin, line.weight_g, now),
                                         self.settings)
            if units < seen:                      # voided: what was waiting for it is not expected any more
                self.bag = rules.dropped(self.bag, line.line_id)
        open_calls = {i.reason for i in session.pending}
        if self.bag.calling is not None and self.bag.calling not in open_calls:
            self.bag = rules.resolved(self.bag, self.monotonic())

    def _expected(self, line_id: str, gtin: str, label_weight_g: int | None, now: float) -> Expected | None:
        if label_weight_g is not None:            # a weighed item: the label says what it weighs
            weight = label_weight_g * MG_PER_G
            return Expected(line_id, gtin, weight, self.settings.tolerance_mg(weight), now)
        known = self.lookup(gtin)
        if known.exempt:
            return None
        tolerance = known.tolerance_mg
        if tolerance is None:
            tolerance = self.settings.tolerance_mg(known.weight_mg or 0)
        return Expected(line_id, gtin, known.weight_mg, tolerance, now)

    # -- acting on the visit -----------------------------------------------------------------------------------

    async def _act(self, actions: tuple[Action, ...], read_at: float) -> None:
        for action in actions:
            if isinstance(action, Sample):
                await self.on_sample(action)
            elif isinstance(action, PlacePrompt):
                async with self.visit.lock:
                    change = place_prompt(self.visit.session)
                    if change is not None:
                        await self.visit.apply_locked(change)
            else:
                await self._call(action, read_at)

    async def _call(self, call: Call, read_at: float) -> None:
        async with self.visit.lock:
            change = raise_call(self.visit.session, call,
                                max_failed_payments=self.visit.settings.max_failed_payments)
            if change is not None:
                await self.visit.apply_locked(change)
        if change is None:                        # no visit a call may stop (paying, ended): nothing is open
            self.bag = rules.resolved(self.bag, self.monotonic())
            return
        self._hear_visits()
        logger.info("bagging call %s: expected %d mg, measured %d mg (tolerance %d mg)", call.reason,
                    call.expected_mg, call.measured_mg, call.tolerance_mg)
        self.latencies.append(self.monotonic() - read_at)
        self.on_call(call, self.latencies[-1])


async def _nothing(_sample: Sample) -> None:
    return None


def _status(reading: Reading) -> str:
    flags = [n for n in ("motion", "under_zero", "over_capacity", "needs_zeroing") if getattr(reading, n)]
    return ", ".join(flags) or "unsettled"
