"""The shopper's "too big to bag" button, on the real lane's own kiosk page in Debian's Chromium: it shows while
the bagging scale waits for the item, and a tap declares it (a call for staff above `skip_max_g`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import async_playwright
from test_kiosk_harness import CHROMIUM, LAUNCH_ARGS, needs_chromium

from simulators.cloud.store_catalog import TEA
from simulators.doubles.waiting import wait_until
from tests.bagging.test_bagging_lane import TEA_MG, Rig, called

pytestmark = [needs_chromium, pytest.mark.timeout(120)]


async def test_the_skip_bagging_button_shows_while_the_scale_waits_and_a_tap_calls_staff(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    try:
        async with rig.lane(skip_max_g=100, call_after_s=30.0) as lane, async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 800})
                await page.goto(f"http://{lane.config.api.listen}/?lang=en")
                await page.wait_for_selector("#skip-bagging", state="attached")
                assert await page.is_hidden("#skip-bagging"), "nothing waits to be bagged yet"
                await rig.scan(lane, TEA, 1)
                await wait_until(lambda: any(p.code == "place_item" for p in lane.session.session.prompts), 5)
                await page.wait_for_selector("#skip-bagging:visible", timeout=5000)
                assert await page.inner_text("#skip-bagging") == "This item is too big to bag"
                await page.click("#skip-bagging")
                weights = await called(lane, "skip_bagging")
                assert weights["expected_mg"] == TEA_MG, "530 g is over skip_max_g: staff look at it"
                await page.wait_for_selector("#skip-bagging", state="hidden", timeout=5000)
            finally:
                await browser.close()
    finally:
        rig.scanner.close()
        rig.scale.close()
