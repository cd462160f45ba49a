"""The local API for the kiosk screen and store IT: HTTP and WebSocket on loopback or a unix socket only.

Routes are added by the components that own them (`ApiServer.app.router`); this module owns the server,
JSON errors with a `detail`, `/v1/health` and the live event stream `/v1/events`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import WSMsgType, web

from agent.api.events import EventHub
from agent.api.fanout import Fanout
from agent.api.port_holder import port_holder
from agent.api.settings import ApiSection
from agent.errors import StartupError
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
        # Keep the exception's own headers: a 405 must say which methods are allowed (RFC 9110 §15.5.6; found
        # by schemathesis, tests/test_api_fuzz.py).
        headers = {k: v for k, v in exc.headers.items() if k.lower() not in ("content-type", "content-length")}
        return web.json_response({"detail": exc.reason}, status=exc.status, headers=headers)
    except Exception:
        logger.exception("local API handler failed path=%s", request.path)
        return web.json_response({"detail": "internal error; see the agent log"}, status=500)


@dataclass(frozen=True, slots=True)
class SocketLimits:
    """What `/v1/events` clients may cost the agent: at most max_clients of them, each with at most about
    256 KB waiting in its transport (agent/api/fanout.py), and one that stops reading is dropped."""

    max_clients: int = 128          # the kiosk and a few tools; 100 at once is tested
    send_timeout_s: float = 5.0     # stalled this long (agent/api/fanout.py MAX_BUFFERED): not reading
    max_msg_size: int = 4096        # clients only listen; anything bigger closes the socket


class ApiServer:
    """Owns the aiohttp application and its listening site."""

    def __init__(self, section: ApiSection, health: HealthRegistry, hub: EventHub,
                 limits: SocketLimits | None = None, hold: Callable[[], bool] = lambda: False) -> None:
        self.section = section
        self.health = health
        self.hub = hub
        self.limits = limits or SocketLimits()
        self.fanout = Fanout(self.limits.send_timeout_s,
                             on_drop=lambda: health.component("api").count("events_clients_dropped"), hold=hold)
        hub.listen_text(self.fanout.publish)
        self.app = web.Application(middlewares=[json_errors])
        self.app.router.add_get("/v1/health", self._health)
        self.app.router.add_get("/v1/events", self._events)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen; a failure store IT can fix (a busy port, a socket directory it may not write) is a
        StartupError naming the address, the holder when /proc tells, and the key to change."""
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        try:
            await self._listen()
        except OSError as exc:
            await self.stop()
            raise StartupError(self._listen_problem(exc), key="[api] listen") from None
        logger.info("local API listening on %s", self.section.listen)

    async def _listen(self) -> None:
        assert self._runner is not None
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
        await site.start()
        if path is not None:
            os.chmod(path, 0o660)  # the kiosk's group may connect; others may not

    def _listen_problem(self, exc: OSError) -> str:
        listen = self.section.listen
        if exc.errno == errno.EADDRINUSE and self.section.unix_path is None:
            holder = port_holder(self.section.host_port[1])
            by = f" by {holder}" if holder else " by another process"
            return (f"the local API cannot listen on {listen}: the address is in use{by}. Fix: stop that process, "
                    "or set another [api] listen in the config (and point the kiosk at it)")
        return (f"the local API cannot listen on {listen}: {exc.strerror or exc}. Fix: use a loopback port or a "
                "unix socket path in a directory the service user may write (unix:/run/omo-edge/api.sock) as "
                "[api] listen")

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _health(self, request: web.Request) -> web.Response:
        # Always 200: the agent answered; the body says what is degraded or down and why.
        return web.json_response(self.health.snapshot(), dumps=lambda o: json.dumps(o, default=str))

    async def _events(self, request: web.Request) -> web.StreamResponse:
        limits = self.limits
        transport = request.transport
        if transport is None or self.fanout.clients >= limits.max_clients:
            self.health.component("api").count("events_clients_refused")
            return web.json_response({"detail": f"{limits.max_clients} clients are listening already; close one "
                                      "(a kiosk reconnecting in a loop?) and try again"}, status=503)
        # Clients only listen: a message over max_msg_size closes the socket (1009) instead of being buffered.
        # No compression: the fan-out writes the same frame to every client (agent/api/fanout.py).
        ws = web.WebSocketResponse(heartbeat=20, max_msg_size=limits.max_msg_size, compress=False)
        listener = self.fanout.add(transport)      # before the handshake ends: no commit after it is missed
        try:
            await ws.prepare(request)
            self.fanout.ready(listener)
            async for message in ws:               # what a client says is ignored; garbage ends the loop
                if message.type == WSMsgType.ERROR:
                    break
        finally:
            self.fanout.remove(listener)
        return ws
