"""Composition of cloud sync for app.py: the publisher, the relay and the disk guard as supervised components.

The app owns lane.db (opened with `lane_db.sync_migrations()` among its migrations) and the supervisor; this
module only builds the parts from their config sections and names the components it starts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from agent.config import AgentSection, MqttSection
from agent.health import ComponentHealth
from agent.store import Database
from agent.supervise import Supervisor
from agent.sync import outbox
from agent.sync.commands import CommandRouter, Handler
from agent.sync.disk import DiskGuard, run_disk_guard
from agent.sync.mqtt import Handlers, Publisher
from agent.sync.relay import OutboxRelay


@dataclass
class Sync:
    """What the app keeps: `guard` for record_sale, `wake()` after each commit that enqueued an event."""

    guard: DiskGuard
    relay: OutboxRelay | None
    publisher: Publisher | None

    def wake(self, priority: int | None = None) -> None:
        if self.relay is not None:
            self.relay.wake(priority)


def start_sync(agent: AgentSection, mqtt: MqttSection | None, lane_db: Database, supervisor: Supervisor, *,
               on_catalog_delta: Callable[[bytes], Awaitable[None]] | None = None,
               commands: Mapping[str, Handler] | None = None) -> Sync:
    """Start `disk`, and with an [mqtt] section `mqtt` and `relay`; without one, events wait in the outbox."""
    lane_db.write_blocking(outbox.set_identity, agent.store_id, agent.lane_id)
    guard = DiskGuard(agent.state_dir, agent.stop_sales_free_mb, agent.shed_scans_free_mb)

    async def disk(health: ComponentHealth) -> None:
        await run_disk_guard(guard, lane_db, health)

    supervisor.start("disk", disk)
    if mqtt is None:
        return Sync(guard, None, None)
    handlers = Handlers(on_catalog_delta=on_catalog_delta)
    if commands:
        handlers.on_command = CommandRouter(lane_db, commands).handle
    publisher = Publisher(mqtt, agent.store_id, agent.lane_id, handlers)
    relay = OutboxRelay(lane_db, publisher, delivery=mqtt.delivery, window=mqtt.inflight_window,
                        confirm_timeout_s=mqtt.confirm_timeout_s, retention_days=mqtt.retention_days,
                        max_publish_rate=mqtt.max_publish_rate)
    supervisor.start("mqtt", publisher.run)
    supervisor.start("relay", relay.run)
    return Sync(guard, relay, publisher)

