"""The local API for the kiosk screen and store IT: HTTP and WebSocket on loopback or a unix socket only.

Routes are added by the components that own them (`ApiServer.app.router`); this module owns the server,
JSON errors with a `detail`, `/v1/health` and the live event stream `/v1/events`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from agent.api.events import EventHub
from agent.config import ApiSection
from agent.health import HealthRegistry

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as JSON with a `detail`, so the kiosk never parses an HTML page."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == "application/json":
            raise
        return web.json_response({"detail": exc.reason}, status=exc.status)
    except Exception:
        logger.exception("local API handler failed path=%s", request.path)
        return web.json_response({"detail": "internal error; see the agent log"}, status=500)


class ApiServer:
    """Owns the aiohttp application and its listening site."""

    def __init__(self, section: ApiSection, health: HealthRegistry, hub: EventHub) -> None:
        self.section = section
        self.health = health
        self.hub = hub
        self.app = web.Application(middlewares=[json_errors])
        self.app.router.add_get("/v1/health", self._health)
        self.app.router.add_get("/v1/events", self._events)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site: web.BaseSite
        path = self.section.unix_path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            site = web.UnixSite(self._runner, str(path))
        else:
            host, port = self.section.host_port
            site = web.TCPSite(self._runner, host, port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            raise OSError(exc.errno, f"local API cannot listen on {self.section.listen}: {exc.strerror}; "
                          "another process holds it, or pick another [api] listen") from exc
        if path is not None:
            os.chmod(path, 0o660)  # the kiosk's group may connect; others may not
        logger.info("local API listening on %s", self.section.listen)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _health(self, request: web.Request) -> web.Response:
        # Always 200: the agent answered; the body says what is degraded or down and why.
        return web.json_response(self.health.snapshot(), dumps=lambda o: json.dumps(o, default=str))

    async def _events(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20)
        queue = self.hub.subscribe()         # before the handshake ends: no commit after it is missed
        try:
            await ws.prepare(request)
        except BaseException:
            self.hub.unsubscribe(queue)
            raise
        sender = asyncio.create_task(self._forward(queue, ws))
        try:
            async for message in ws:
                if message.type == WSMsgType.ERROR:
                    break
        finally:
            sender.cancel()
            self.hub.unsubscribe(queue)
        return ws

    @staticmethod
    async def _forward(queue: asyncio.Queue[dict[str, Any]], ws: web.WebSocketResponse) -> None:
        while not ws.closed:
            event = await queue.get()
            await ws.send_str(orjson.dumps(event, default=str).decode())
