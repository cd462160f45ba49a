"""Per-component health for `/v1/health`, logging once when a component goes down and once when it recovers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

logger = logging.getLogger(__name__)


class State(StrEnum):
    STARTING = "starting"
    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"
    STOPPED = "stopped"


_SEVERITY = {State.OK: 0, State.STOPPED: 0, State.STARTING: 1, State.DEGRADED: 2, State.DOWN: 3}


@dataclass
class ComponentHealth:
    """One component's state, its reason, counters and extra details (depths, ages, versions)."""

    name: str
    state: State = State.STARTING
    reason: str = ""
    since: float = field(default_factory=time.time)
    counters: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    probe: Callable[[], dict[str, Any]] | None = None
    on_change: Callable[[ComponentHealth], None] | None = None

    def set(self, state: State, reason: str = "") -> None:
        """Change state; log only on a change of state, never once per retry."""
        if state == self.state and reason == self.reason:
            return
        previous, self.state, self.reason = self.state, state, reason
        if state != previous:
            self.since = time.time()
            self._log_change(previous)
            if self.on_change is not None:
                self.on_change(self)

    def _log_change(self, previous: State) -> None:
        if self.state in (State.DOWN, State.DEGRADED):
            logger.warning("component %s %s: %s", self.name, self.state, self.reason)
        elif self.state == State.OK and previous in (State.DOWN, State.DEGRADED):
            logger.info("component %s recovered", self.name)

    def ok(self) -> None:
        self.set(State.OK)

    def degraded(self, reason: str) -> None:
        self.set(State.DEGRADED, reason)

    def down(self, reason: str) -> None:
        self.set(State.DOWN, reason)

    def count(self, counter: str, n: int = 1) -> None:
        self.counters[counter] = self.counters.get(counter, 0) + n

    def snapshot(self) -> dict[str, Any]:
        details = dict(self.details)
        if self.probe is not None:
            try:
                details.update(self.probe())
            except Exception as exc:  # a broken probe must not break /v1/health
                details["probe_error"] = str(exc)
        return {"state": str(self.state), "reason": self.reason, "since": round(self.since, 3),
                "counters": dict(self.counters), **({"details": details} if details else {})}


class HealthRegistry:
    """All components' health; the overall status is the worst of them."""

    def __init__(self, version: str, store_id: str = "", lane_id: str = "") -> None:
        self.version = version
        self.store_id = store_id          # named in every snapshot: `omo-edge status` checks it is this lane's
        self.lane_id = lane_id
        self.started = time.monotonic()
        self._components: dict[str, ComponentHealth] = {}
        self.listeners: list[Callable[[HealthRegistry], None]] = []

    def component(self, name: str, probe: Callable[[], dict[str, Any]] | None = None) -> ComponentHealth:
        """The component called `name`, made on first use; `probe` (asked on each read of health) is given by
        the one owner that makes it, so it goes in with the constructor."""
        if name not in self._components:
            self._components[name] = ComponentHealth(name, probe=probe, on_change=self._changed)
        elif probe is not None:
            raise ValueError(f"health component {name!r} exists already: its probe goes in when it is made")
        return self._components[name]

    def _changed(self, _component: ComponentHealth) -> None:
        for listener in self.listeners:
            listener(self)

    def summary(self) -> str:
        """One line for systemd's STATUS=: the overall state and what is not ok, with reasons."""
        troubled = [f"{c.name} {c.state}: {c.reason}" for c in self._components.values()
                    if c.state in (State.DOWN, State.DEGRADED)]
        return f"{self.overall()}" + (f"; {'; '.join(troubled)}" if troubled else "")

    def remove(self, name: str) -> None:
        self._components.pop(name, None)

    def overall(self) -> State:
        states = [c.state for c in self._components.values()] or [State.STARTING]
        worst = max(states, key=lambda s: _SEVERITY[s])
        return State.OK if worst == State.STOPPED else worst

    def states(self) -> dict[str, dict[str, str]]:
        """Each component's state and reason as last set, without asking any probe (cheap: read on every change
        of the lane status)."""
        return {n: {"state": str(c.state), "reason": c.reason} for n, c in sorted(self._components.items())}

    def snapshot(self) -> dict[str, Any]:
        # Components first: a probe may update its component's state (the clock's), and status must agree.
        components = {n: c.snapshot() for n, c in sorted(self._components.items())}
        return {"status": str(self.overall()), "store": self.store_id, "lane": self.lane_id, "version": self.version,
                "uptime_s": round(time.monotonic() - self.started, 3), "components": components}


# -- Observers: what the lane's workers report as they go --------------------------------------------------------
# The session, the pipeline and the relay take an `Observers` in their constructors and call its members; they
# never import the metrics (prometheus_client lives in agent/api/metrics.py, which builds the bundle once with
# `LaneMetrics.observers()`). A worker built without one reports to nobody (tools, tests, benches).


def _scan(fields: Mapping[str, Any], seconds: float) -> None:
    """Nobody listens."""


def _one(_: Any) -> None:
    """Nobody listens."""


def _publish(topic_class: str, seconds: float) -> None:
    """Nobody listens."""


@dataclass(frozen=True, slots=True)
class Observers:
    """Each member is called after the thing it names has happened (committed, settled, acknowledged)."""

    # A recorded scan's event fields and the seconds from its frame to its commit (agent/session/pipeline.py).
    scan: Callable[[Mapping[str, Any], float], None] = _scan
    # Each committed change of the visit, with its session events and sale (agent/session/controller.py).
    change: Callable[[Any], None] = _one
    # Each payment intent that reached a final state, once committed (agent/session/checkout.py).
    payment: Callable[[Any], None] = _one
    # Publish to PUBACK, by topic class (agent/sync/relay.py).
    publish: Callable[[str, float], None] = _publish
    # PUBACK to the ingest's ack (agent/sync/relay.py).
    ack: Callable[[float], None] = _one


NOBODY = Observers()
