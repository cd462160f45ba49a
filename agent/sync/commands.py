"""Cloud-to-edge commands on `{prefix}/{store}/{lane}/commands`: lane open/close, catalog refresh, config reload,
and a payment service's notification relayed by the cloud (`payment.notify`: the lane asks the status now).

Why a table: MQTT QoS 1 delivers at least once, and the cloud may repeat a command after a timeout, so a
command ID already carried out is recorded in lane.db and ignored when it comes again, even after a restart.
Payload: `{"command_id": "...", "command": "lane.close", "args": {...}}`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from agent.store import Database, Migration

logger = logging.getLogger(__name__)

COMMANDS = ("lane.open", "lane.close", "catalog.refresh", "config.reload", "payment.notify")

MIGRATIONS = [
    Migration("m001_remote_commands", """
        CREATE TABLE remote_commands (
            command_id TEXT PRIMARY KEY, command TEXT NOT NULL, outcome TEXT NOT NULL,
            done_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ')));
    """),
]

Handler = Callable[[Mapping[str, Any]], Awaitable[None]]


def _seen(conn: sqlite3.Connection, command_id: str) -> bool:
    return conn.execute("SELECT 1 FROM remote_commands WHERE command_id = ?", (command_id,)).fetchone() is not None


def _record(conn: sqlite3.Connection, command_id: str, command: str, outcome: str) -> None:
    conn.execute("INSERT OR IGNORE INTO remote_commands (command_id, command, outcome) VALUES (?, ?, ?)",
                 (command_id, command, outcome))


class CommandRouter:
    """Dispatches each command once to the app's handler; give `router.handle` to `Handlers.on_command`."""

    def __init__(self, db: Database, handlers: Mapping[str, Handler]) -> None:
        unknown = set(handlers) - set(COMMANDS)
        if unknown:
            raise ValueError(f"no such cloud commands: {sorted(unknown)}; known: {COMMANDS}")
        self.db = db
        self.handlers = dict(handlers)

    async def handle(self, payload: bytes) -> str:
        """Carry out one command unless already done; returns what happened (for logs and tests)."""
        try:
            message = json.loads(payload)
            command_id, command = str(message["command_id"]), str(message["command"])
            args = message.get("args") or {}
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("ignoring malformed cloud command: %s", exc)
            return "malformed"
        if _seen(self.db.reader(), command_id):
            return "duplicate"
        handler = self.handlers.get(command)
        if handler is None:
            outcome = "unsupported"
            logger.warning("cloud command %s (%s) is not supported by this agent", command, command_id)
        else:
            await handler(args)
            outcome = "done"
            logger.info("cloud command done command=%s id=%s", command, command_id)
        await self.db.write(_record, command_id, command, outcome)
        return outcome
