"""The staff page's HTTP API (docs/attendant-openapi.yaml) and its static files, on aiohttp.

Login makes a server-side session; the browser holds only its ID in a Secure, HttpOnly, SameSite=Strict cookie.
Against cross-site requests: SameSite=Strict, every POST must be `application/json` (a form cannot send that
without a CORS preflight, which this server never grants), and an `Origin` that is not this host is refused.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from agent.station.board import iso
from agent.station.metrics import CONTENT_TYPE
from agent.station.staff import LoginRefused, Staff, verify_staff
from agent.station.station import Station

logger = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).with_name("static")
COOKIE = "omo_station"
KEEPALIVE_S = 15.0
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; media-src 'self'; "
                                       "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
            "Permissions-Policy": "camera=(self), microphone=(), geolocation=()", "Cache-Control": "no-store"}


def _error(status: int, detail: str, reason: str) -> web.Response:
    return web.json_response({"detail": detail, "reason": reason}, status=status)


class Routes:
    """Handlers over one Station; `secure` is False only for insecure_loopback_only (plain HTTP on 127.0.0.1)."""

    def __init__(self, station: Station, secure: bool) -> None:
        self.station, self.secure = station, secure

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=64 * 1024)
        app.router.add_get("/", self.index)
        app.router.add_static("/static/", STATIC_DIR, show_index=False)
        app.router.add_get("/healthz", self.health)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_post("/api/login", self.login)
        app.router.add_post("/api/logout", self.logout)
        app.router.add_get("/api/me", self.me)
        app.router.add_get("/api/lanes", self.lanes)
        app.router.add_get("/api/lanes/{lane}/basket", self.basket)
        app.router.add_post("/api/lanes/{lane}/commands", self.command)
        app.router.add_get("/api/events", self.events)
        app.on_shutdown.append(self._close_streams)
        return app

    async def _close_streams(self, _app: web.Application) -> None:
        self.station.hub.close_all()

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "POST":
            if request.content_type != "application/json":
                return _error(415, "send JSON (Content-Type: application/json)", "content_type")
            origin = request.headers.get("Origin")
            if origin is not None and origin.split("://", 1)[-1] != request.host:
                return _error(403, "cross-site request refused", "origin")
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = _error(exc.status, exc.reason, "http")
        response.headers.update({k: v for k, v in _HEADERS.items() if k not in response.headers})
        return response

    def _staff(self, request: web.Request) -> Staff | None:
        return self.station.sessions.get(request.cookies.get(COOKIE), self.station.clock())

    async def index(self, _request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "index.html")

    async def health(self, _request: web.Request) -> web.Response:
        view = self.station.view()
        status = "ok" if view["broker"] == "connected" else "degraded"
        return web.json_response({"status": status, "broker": view["broker"], "lanes": len(view["lanes"]),
                                  "station_id": self.station.station_id, "store_id": self.station.store_id})

    async def metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=self.station.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    async def login(self, request: web.Request) -> web.Response:
        body = await _json(request)
        token = body.get("token") if body is not None else None
        if not isinstance(token, str) or not token.strip():
            return _error(400, "give the staff code as {\"token\": \"...\"}", "bad_request")
        result = verify_staff(token, self.station.staff_keys, self.station.clock())
        if isinstance(result, LoginRefused):
            logger.info("station login refused reason=%s", result.reason)
            return _error(401, result.message, result.reason)
        now = self.station.clock()
        session_id = self.station.sessions.open(result, now)
        self.station.names[result.staff_id] = result.name
        logger.info("station login staff_id=%s staff=%s role=%s", result.staff_id, result.name, result.role)
        response = web.json_response(self._who(result, now))
        response.set_cookie(COOKIE, session_id, httponly=True, secure=self.secure, samesite="Strict", path="/")
        return response

    def _who(self, staff: Staff, now: float) -> dict[str, Any]:
        sessions = self.station.sessions
        return {"staff_id": staff.staff_id, "name": staff.name, "role": staff.role,
                "idle_expiry_s": sessions.idle_s, "expires_at": iso(min(now + sessions.ttl_s, staff.token_exp))}

    async def logout(self, request: web.Request) -> web.Response:
        self.station.sessions.close(request.cookies.get(COOKIE))
        response = web.json_response({"logged_out": True})
        response.del_cookie(COOKIE, path="/")
        return response

    async def me(self, request: web.Request) -> web.Response:
        staff = self._staff(request)
        if staff is None:
            return _error(401, "log in with your staff code", "login")
        return web.json_response(self._who(staff, self.station.clock()))

    async def lanes(self, request: web.Request) -> web.Response:
        if self._staff(request) is None:
            return _error(401, "log in with your staff code", "login")
        return web.json_response(self.station.view())

    async def basket(self, request: web.Request) -> web.Response:
        if self._staff(request) is None:
            return _error(401, "log in with your staff code", "login")
        basket = self.station.board.basket(request.match_info["lane"])
        if basket is None:
            return _error(404, f"no lane {request.match_info['lane']!r}", "no_such_lane")
        return web.json_response(basket)

    async def command(self, request: web.Request) -> web.Response:
        staff = self._staff(request)
        if staff is None:
            return _error(401, "your session has ended; log in again", "login")
        body = await _json(request)
        if body is None:
            return _error(400, "send the command as a JSON object", "bad_request")
        status, answer = await self.station.command(staff, request.match_info["lane"], body)
        return web.json_response(answer, status=status)

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-Sent Events: the whole board first, then `lane`, `broker` and `action` events."""
        session_id = request.cookies.get(COOKIE)
        if self._staff(request) is None:
            return _error(401, "log in with your staff code", "login")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", **_HEADERS})
        await response.prepare(request)
        queue = self.station.hub.subscribe()
        try:
            view = json.dumps(self.station.view(), ensure_ascii=False, separators=(",", ":"))
            await response.write(f"event: view\ndata: {view}\n\n".encode())
            while True:
                try:
                    async with asyncio.timeout(KEEPALIVE_S):
                        frame = await queue.get()
                except TimeoutError:
                    if not self.station.sessions.alive(session_id, self.station.clock()):
                        await response.write(b"event: logout\ndata: {}\n\n")
                        break
                    frame = b": keep-alive\n\n"
                if frame is None:
                    break
                await response.write(frame)
        except ConnectionResetError:
            pass
        finally:
            self.station.hub.unsubscribe(queue)
        return response


async def _json(request: web.Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
