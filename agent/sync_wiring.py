"""Builds the lane's cloud link from `[mqtt]`: publisher, outbox relay and the cloud commands it carries."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agent.config import MqttSection
from agent.mqtt import Handlers, Publisher
from agent.relay import OutboxRelay
from agent.remote import CommandRouter
from agent.store import Database

logger = logging.getLogger(__name__)

CommandHandler = Callable[[Mapping[str, Any]], Awaitable[None]]


@dataclass
class CloudLink:
    publisher: Publisher
    relay: OutboxRelay
    commands: CommandRouter


def build_cloud_link(section: MqttSection, store_id: str, lane_id: str, lane_db: Database,
                     on_catalog_delta: Callable[[bytes], Awaitable[None]],
                     commands: Mapping[str, CommandHandler]) -> CloudLink:
    """Wire the MQTT session: deltas go to the catalog, commands run once each, acks confirm the outbox."""
    handlers = Handlers(on_catalog_delta=on_catalog_delta)
    publisher = Publisher(section, store_id, lane_id, handlers)
    relay = OutboxRelay(lane_db, publisher, delivery=section.delivery, window=section.inflight_window,
                        confirm_timeout_s=section.confirm_timeout_s, retention_days=section.retention_days)
    router = CommandRouter(lane_db, commands)

    async def on_command(payload: bytes) -> None:
        await router.handle(payload)

    handlers.on_command = on_command
    return CloudLink(publisher=publisher, relay=relay, commands=router)
