"""The shopper's screen under test: the real page in Debian's Chromium, on a real local API, selling from the
in-process lane (`session_lane`). No tests here: the kiosk test modules import `open_screen` from it.

Playwright drives Chromium at /usr/bin/chromium (Playwright's own browser download is not needed); the tests
skip, saying so, only when that binary is missing (`apt-get install chromium`, as .ci/bootstrap does).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from PIL import Image
from playwright.async_api import Page, async_playwright

from agent.api.events import EventHub
from agent.api.kiosk import STATIC_DIR, add_kiosk_routes
from agent.api.server import ApiServer
from agent.api.session_routes import SessionRoutes
from agent.api.settings import ApiSection
from agent.health import HealthRegistry
from agent.payment.adapter import PaymentRef, PaymentRequest, PaymentResult, PaymentStatus, PaymentUnknown
from agent.payment.simulated import SimulatedAdapter
from simulators.doubles.ports import free_port
from simulators.fixtures.session import SessionLane

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts" / "kiosk"
# What works in a container without a GPU or a user namespace, and keeps Chromium off the network.
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync"]
LANDSCAPE = {"width": 1024, "height": 768}
PORTRAIT = {"width": 1080, "height": 1920}
CATALOGUES: dict[str, dict[str, str]] = {
    lang: json.loads((STATIC_DIR / "i18n" / f"{lang}.json").read_text()) for lang in ("en", "ja")}

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(),
                                    reason=f"{CHROMIUM} is missing: apt-get install chromium (.ci/bootstrap does)")


def yen(amount: int) -> str:
    """Money as the page writes it: Intl.NumberFormat('ja-JP', JPY) in Chromium uses the full-width sign."""
    return f"￥{amount:,}"


class EventsGate:
    """Lets a test cut the screen's WebSocket from the server side and keep it out until `reopen()`."""

    def __init__(self) -> None:
        self.requests: list[web.Request] = []   # aiohttp requests are not hashable
        self.closed = False

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path != "/v1/events":
            return await handler(request)   # type: ignore[no-any-return]
        if self.closed:
            raise web.HTTPServiceUnavailable(reason="events closed by the test")
        self.requests.append(request)
        try:
            return await handler(request)   # type: ignore[no-any-return]
        finally:
            self.requests.remove(request)

    def drop(self) -> None:
        """As a restarting agent would: every open socket cut (no close frame), new ones refused."""
        self.closed = True
        for request in list(self.requests):
            if request.transport is not None:
                request.transport.close()

    def reopen(self) -> None:
        self.closed = False


class FakeHeldPayments:
    """The simulated payment service, answering only once the test calls `release()`.

    With `lost_reply`, the charge is made and its reply lost (as a timeout would): the lane then asks the
    payment's status, and that answer is the one held.
    """

    def __init__(self, inner: SimulatedAdapter, *, lost_reply: bool = False) -> None:
        self.inner, self.lost_reply = inner, lost_reply
        self.name, self.capabilities = inner.name, inner.capabilities
        self._released = asyncio.Event()

    def release(self) -> None:
        self._released.set()

    async def pay(self, request: PaymentRequest) -> PaymentResult:
        if self.lost_reply:
            await self.inner.pay(request)
            raise PaymentUnknown(f"the reply for {request.payment_id} was lost")
        await self._released.wait()
        return await self.inner.pay(request)

    async def status(self, ref: PaymentRef) -> PaymentResult:
        await self._released.wait()
        return await self.inner.status(ref)

    async def withdraw(self, ref: PaymentRef) -> PaymentResult:
        return await self.inner.withdraw(ref)

    async def cancel(self, ref: PaymentRef) -> PaymentResult:
        return await self.inner.cancel(ref)

    async def refund(self, ref: PaymentRef, refund_id: str, amount: int) -> PaymentResult:
        return await self.inner.refund(ref, refund_id, amount)


class ConfirmingPayments(FakeHeldPayments):
    """A wallet that asks the shopper to confirm in the app: the payment is AUTHORIZED until `release()`."""

    async def pay(self, request: PaymentRequest) -> PaymentResult:
        return replace(await self.inner.pay(request), status=PaymentStatus.AUTHORIZED)

    async def status(self, ref: PaymentRef) -> PaymentResult:
        result = await self.inner.status(ref)
        return result if self._released.is_set() else replace(result, status=PaymentStatus.AUTHORIZED)


@dataclass
class KioskScreen:
    page: Page
    base: str
    lane: SessionLane
    health: HealthRegistry
    gate: EventsGate
    language: str
    page_errors: list[str] = field(default_factory=list)

    def t(self, key: str, **values: Any) -> str:
        """The catalogue's sentence in the screen's language, filled as the page fills it."""
        text = CATALOGUES[self.language][key]
        for name, value in values.items():
            text = text.replace("{" + name + "}", str(value))
        return text

    async def state(self, state: str) -> None:
        await self.page.wait_for_function("s => document.body.dataset.state === s", arg=state, timeout=5000)

    async def shows(self, *texts: str) -> None:
        """Each text is visible on the screen (waiting up to 5 s for the screen to get there)."""
        for text in texts:
            await self.page.get_by_text(text, exact=False).filter(visible=True).first.wait_for(timeout=5000)

    async def tap(self, selector: str) -> None:
        await self.page.locator(selector).filter(visible=True).first.tap(timeout=5000)

    async def shot(self, name: str) -> Path:
        """A screenshot under artifacts/kiosk/, checked not to be blank."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        await self.page.screenshot(path=str(path))
        assert_not_blank(path)
        return path

    async def view(self) -> dict[str, Any]:
        """What the screen last drew (the page's read-only `window.omoKiosk.view`)."""
        return await self.page.evaluate("() => window.omoKiosk.view")  # type: ignore[no-any-return]


def assert_not_blank(path: Path) -> None:
    with Image.open(path) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    if colours is None:
        return                                  # more than 65,536 colours: certainly not blank
    commonest = max(count for count, _ in colours)
    assert len(colours) > 16 and commonest < 0.97 * sum(count for count, _ in colours), f"{path} looks blank"


@asynccontextmanager
async def open_screen(lane: SessionLane, *, language: str = "en", viewport: dict[str, int] = LANDSCAPE,
                      health_poll_s: float = 10.0, end_screen_s: float = 30.0,
                      scanner_position: str = "below") -> AsyncIterator[KioskScreen]:
    """The API on a free 127.0.0.1 port with the session's and the kiosk's routes, and the page open on it."""
    assert lane.controller is not None and lane.pipeline is not None
    hub, health, gate = EventHub(), HealthRegistry("test"), EventsGate()
    lane.controller.notify = hub.publish
    lane.pipeline._notify = hub.publish         # scan and lane events too, as agent/app.py wires them
    port = free_port()
    server = ApiServer(ApiSection(listen=f"127.0.0.1:{port}"), health, hub)
    server.app.middlewares.append(gate.middleware)
    SessionRoutes(lane.controller, lane.pipeline, lane.checkout).add_to(server.app)
    add_kiosk_routes(server.app, lane.controller.view, default_language="ja", health_poll_s=health_poll_s,
                     end_screen_s=end_screen_s, scanner_position=scanner_position)
    await server.start()
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
            try:
                context = await browser.new_context(viewport=viewport, has_touch=True)  # type: ignore[arg-type]
                page = await context.new_page()
                screen = KioskScreen(page, f"http://127.0.0.1:{port}", lane, health, gate, language)
                page.on("pageerror", lambda error: screen.page_errors.append(str(error)))
                await page.goto(f"{screen.base}/?lang={language}")
                await page.wait_for_function("() => window.omoKiosk?.view && window.omoKiosk.connected",
                                             timeout=10000)
                yield screen
                assert not screen.page_errors, screen.page_errors
            finally:
                await browser.close()
    finally:
        await server.stop()
