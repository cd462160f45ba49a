"""The shopper's screen as a witness: a WebSocket client of the daemon's `/v1/events`, in its own thread,
remembering every sale the screen was told is paid (the power-cut campaign counts those as reported paid,
beside the API's answers; a kill may cut the HTTP answer off after the screen already showed "paid")."""

from __future__ import annotations

import asyncio
import json
import threading

import aiohttp


class ScreenWatch:
    def __init__(self, url: str) -> None:
        self.url = url
        self.paid: set[str] = set()
        self.connected = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._watch()), name="screen", daemon=True)

    def start(self, timeout_s: float = 10.0) -> None:
        self._thread.start()
        if not self.connected.wait(timeout_s):
            raise TimeoutError(f"the screen could not connect to {self.url}")

    def join(self, timeout_s: float = 10.0) -> set[str]:
        """Wait for the connection to end (the daemon died); the sales shown paid."""
        self._thread.join(timeout_s)
        return set(self.paid)

    async def _watch(self) -> None:
        try:
            async with aiohttp.ClientSession() as http, http.ws_connect(self.url, autoping=True) as ws:
                self.connected.set()
                async for message in ws:
                    if message.type != aiohttp.WSMsgType.TEXT:
                        continue
                    event = json.loads(message.data)
                    view = event.get("session") if event.get("type") == "session" else None
                    if view and view.get("state") == "paid" and view.get("sale_id"):
                        self.paid.add(str(view["sale_id"]))
        except (TimeoutError, aiohttp.ClientError, ConnectionError):
            pass                              # the daemon was killed: what the screen saw until then stays
        finally:
            self.connected.set()
