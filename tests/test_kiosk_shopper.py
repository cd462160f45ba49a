"""What the shopper reads on the screen where it used to mislead, in real Chromium: the previous shopper's paid
screen cleared by the next shopper's first action, prompts whose arguments fill the translated sentence, the
call-staff and suspend buttons, names and unit prices per line, the welcome screen's scanner hint."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from test_kiosk_harness import KioskScreen, needs_chromium, open_screen, yen

from simulators.cloud.store_catalog import MEMBER, ORDER_READY, SNACK, TEA
from simulators.fixtures.session import SessionLane

pytestmark = needs_chromium


@pytest.fixture
async def screen(session_lane: SessionLane) -> AsyncIterator[KioskScreen]:
    async with open_screen(session_lane) as screen:
        yield screen


async def paid_visit(screen: KioskScreen, lane: SessionLane) -> str:
    """A visit paid on the screen; returns its sale ID (on the screen as text and as a barcode)."""
    await lane.scan(TEA)
    await screen.tap("#pay")
    await screen.state("paid")
    sale_id = lane.view["sale_id"]
    await screen.shows(screen.t("paid_title"), sale_id, yen(150))
    return str(sale_id)


async def previous_sale_gone(screen: KioskScreen, sale_id: str) -> None:
    """Nothing of the previous shopper's paid screen is visible any more."""
    page = screen.page
    await page.locator("#paid").wait_for(state="hidden", timeout=5000)
    for text in (screen.t("paid_title"), sale_id):
        assert not await page.get_by_text(text).filter(visible=True).count(), f"{text!r} is still on screen"
    assert not await page.locator("#barcode").is_visible()


async def test_the_next_shoppers_scan_clears_the_paid_screen(screen: KioskScreen, session_lane: SessionLane) -> None:
    sale_id = await paid_visit(screen, session_lane)
    await session_lane.scan(TEA)
    await screen.shows("Green tea 500ml")
    await previous_sale_gone(screen, sale_id)


async def test_the_next_shoppers_refused_scan_clears_the_paid_screen(screen: KioskScreen,
                                                                     session_lane: SessionLane) -> None:
    sale_id = await paid_visit(screen, session_lane)
    await session_lane.scan(SNACK)                  # sale stopped: refused, the lane stays `paid`
    assert session_lane.view["state"] == "paid"
    await screen.shows(screen.t("prompt.sale_stop"))
    await previous_sale_gone(screen, sale_id)
    await screen.shows(screen.t("welcome_title"))


async def test_the_next_shoppers_pickup_clears_the_paid_screen(pickup_lane: SessionLane) -> None:
    async with open_screen(pickup_lane) as screen:
        sale_id = await paid_visit(screen, pickup_lane)
        await pickup_lane.scan(pickup_lane.issuer.order(ORDER_READY, sub=MEMBER), "qr")
        await pickup_lane.settled()
        await screen.shows("Compartment A3 is open.")
        await previous_sale_gone(screen, sale_id)


async def test_a_scan_not_recorded_clears_the_paid_screen(screen: KioskScreen, session_lane: SessionLane) -> None:
    sale_id = await paid_visit(screen, session_lane)
    await screen.page.evaluate("() => 0")
    hub_event = {"type": "scan_refused", "device": "handheld", "kind": "product", "detail": "disk full"}
    assert session_lane.pipeline is not None
    session_lane.pipeline._notify(hub_event)        # what the pipeline sends when lane.db refuses the scan
    await screen.shows(screen.t("scan_not_recorded"))
    await previous_sale_gone(screen, sale_id)
