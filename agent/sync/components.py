"""Composition of cloud sync for app.py: the publisher, the relay and the disk guard as supervised components.

The app owns lane.db (opened with `lane_db.sync_migrations()` among its migrations) and the supervisor; this
module only builds the parts from their config sections and names the components it starts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from agent.health import NOBODY, ComponentHealth, Observers
from agent.store import Database
from agent.supervise import Supervisor
from agent.sync import outbox
from agent.sync.commands import CommandRouter, Handler
from agent.sync.disk import DiskGuard, disk_probe, run_disk_guard
from agent.sync.mqtt import Handlers, Publisher
from agent.sync.relay import OutboxRelay
from agent.sync.settings import AgentSettings, MqttSection


@dataclass
class Sync:
    """What the app keeps: `guard` for record_sale, `wake()` after each commit that enqueued an event."""

    guard: DiskGuard
    relay: OutboxRelay[Publisher] | None
    publisher: Publisher | None

    def wake(self, priority: int | None = None) -> None:
        if self.relay is not None:
            self.relay.wake(priority)

    def cert_expiry(self) -> datetime | None:
        """The lane's client certificate's expiry as the publisher last read it (None without [mqtt] or TLS)."""
        return None if self.publisher is None else self.publisher.cert_expiry

    def start(self, lane_db: Database, supervisor: Supervisor) -> None:
        """Start `disk`, and with an [mqtt] section `mqtt` and `relay`; without one, events wait in the outbox."""
        guard = self.guard

        async def disk(health: ComponentHealth) -> None:
            await run_disk_guard(guard, lane_db, health)

        supervisor.start("disk", disk, probe=disk_probe(guard, lane_db))
        if self.publisher is not None and self.relay is not None:
            supervisor.start("mqtt", self.publisher.run, probe=self.publisher.probe)
            supervisor.start("relay", self.relay.run, probe=self.relay.probe)


def build_sync(agent: AgentSettings, mqtt: MqttSection | None, lane_db: Database, *, guard: DiskGuard | None = None,
               observers: Observers = NOBODY, on_catalog_delta: Callable[[bytes], Awaitable[None]] | None = None,
               commands: Mapping[str, Handler] | None = None,
               on_attendant: Callable[[bytes, str | None, bytes | None], None] | None = None,
               on_connected: Callable[[], None] = lambda: None) -> Sync:
    """The disk guard, and with [mqtt] the publisher and the relay, built but not started (`Sync.start`).
    `on_attendant` takes the attendant station's commands; `on_connected` hears each (re)connect."""
    lane_db.write_blocking(outbox.set_identity, agent.store_id, agent.lane_id)
    guard = guard or DiskGuard(agent.state_dir, agent.stop_sales_free_mb, agent.shed_scans_free_mb)
    if mqtt is None:
        return Sync(guard, None, None)
    handlers = Handlers(on_catalog_delta=on_catalog_delta,
                        on_command=CommandRouter(lane_db, commands).handle if commands else None,
                        on_attendant=on_attendant, on_connected=on_connected)
    relay = OutboxRelay(lane_db, partial(Publisher, mqtt, agent.store_id, agent.lane_id), handlers=handlers,
                        delivery=mqtt.delivery, window=mqtt.inflight_window, confirm_timeout_s=mqtt.confirm_timeout_s,
                        retention_days=mqtt.retention_days, max_publish_rate=mqtt.max_publish_rate,
                        observers=observers)
    return Sync(guard, relay, relay.publisher)


def start_sync(agent: AgentSettings, mqtt: MqttSection | None, lane_db: Database, supervisor: Supervisor, *,
               on_catalog_delta: Callable[[bytes], Awaitable[None]] | None = None,
               commands: Mapping[str, Handler] | None = None) -> Sync:
    """build_sync, then Sync.start: for callers that need nothing between the two (tools, tests)."""
    sync = build_sync(agent, mqtt, lane_db, on_catalog_delta=on_catalog_delta, commands=commands)
    sync.start(lane_db, supervisor)
    return sync
