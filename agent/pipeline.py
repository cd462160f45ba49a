"""The one consumer of scans: every device's ScanEvent passes here, in arrival order, one at a time."""

from __future__ import annotations

import logging
from typing import Any

from agent.api import EventHub
from agent.clock import rfc3339_ms
from agent.health import ComponentHealth
from drivers.base import ScanEvent

logger = logging.getLogger(__name__)


def scan_fields(event: ScanEvent) -> dict[str, Any]:
    """What a scan says before interpretation, in the contract's field names."""
    from datetime import UTC, datetime

    return {"device": event.device, "symbology": event.symbology, "text": event.text,
            "aim": event.aim, "occurred_at": rfc3339_ms(datetime.fromtimestamp(event.received_at, UTC))}


class Pipeline:
    """Turns scans into recorded, announced events."""

    def __init__(self, hub: EventHub, health: ComponentHealth) -> None:
        self._hub = hub
        self._health = health

    async def on_scan(self, event: ScanEvent) -> None:
        fields = scan_fields(event)
        self._health.count("scans")
        logger.info("scan device=%s symbology=%s text=%s", event.device, event.symbology, event.text,
                    extra={"event": "scan"})
        self._hub.publish({"type": "scan", **fields})
