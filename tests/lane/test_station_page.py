"""The attendant's page in Debian's Chromium (Playwright) on the real station, mosquitto and eight fake lanes:
login typed, a call shown oldest on top, approve from the tile reaching the lane, two pages deciding at once,
stale lanes, the broker lost and back, axe-core finding nothing serious, every control at least 44 px."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright
from test_kiosk_harness import CHROMIUM, LAUNCH_ARGS, needs_chromium

from simulators.cloud.broker import MosquittoBroker
from simulators.lanes.attendant_lanes import AttendantLanes
from simulators.lanes.station import StationKit, running_station

pytestmark = [needs_chromium, pytest.mark.broker]
LANES = [f"lane-{n:02d}" for n in range(1, 9)]
TABLET = {"width": 1024, "height": 768}
TARGETS_JS = """() => {
  const scope = document.querySelector('dialog[open]') ?? document;
  return [...scope.querySelectorAll('button, a[href], input, select, [role=button]')]
    .filter((el) => el.checkVisibility())
    .map((el) => { const r = el.getBoundingClientRect();
                   return {what: el.id || el.textContent.trim(), width: r.width, height: r.height}; });
}"""


@pytest.fixture
async def store(mqtt_broker: MosquittoBroker, tmp_path: Path) -> AsyncIterator[tuple[StationKit, AttendantLanes]]:
    kit = StationKit(tmp_path / "station", mqtt_broker.port)
    lanes = AttendantLanes("127.0.0.1", mqtt_broker.port, kit.store_id, LANES, station_keys=[kit.station_public],
                           staff_keys=kit.staff_key_paths, heartbeat_s=1.0)
    await asyncio.to_thread(lanes.start)
    try:
        async with running_station(kit):
            yield kit, lanes
    finally:
        await asyncio.to_thread(lanes.stop)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@asynccontextmanager
async def tablet(browser: Browser, kit: StationKit, badge: str | None, lang: str = "en") -> AsyncIterator[Page]:
    context = await browser.new_context(viewport=TABLET, has_touch=True)  # type: ignore[arg-type]
    await context.add_init_script(f"localStorage.setItem('station.lang', '{lang}')")
    # Headless Chromium has no vibration motor: count the page's calls instead.
    await context.add_init_script("window.__vibrated = 0; navigator.vibrate = () => { window.__vibrated += 1; "
                                  "return true; };")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(kit.url + "/")
    if badge is not None:
        await page.fill("#token", badge)
        await page.click("#login-form button[type=submit]")
        await page.wait_for_selector("#board:not([hidden])")
        await page.wait_for_function("() => document.querySelectorAll('#tiles .tile').length === 8")
    try:
        yield page
        assert not errors, errors
    finally:
        await context.close()


async def tile_order(page: Page) -> list[str]:
    return await page.eval_on_selector_all("#tiles .tile", "(tiles) => tiles.map((t) => t.dataset.lane)")


async def test_a_call_shows_oldest_on_top_and_approve_on_the_tile_reaches_the_lane(
        store: tuple[StationKit, AttendantLanes], browser: Browser) -> None:
    kit, lanes = store
    async with tablet(browser, kit, kit.badge("S-7", name="Sato")) as page:
        assert "Sato" in await page.inner_text("#who")
        first = lanes.raise_call("lane-05", "unknown_item", code="4512345", ago_s=1.0)    # the older call
        lanes.raise_call("lane-03", "random_audit")
        await page.wait_for_selector("#tile-lane-03 .call")
        assert (await tile_order(page))[:2] == ["lane-05", "lane-03"]
        assert await page.evaluate("window.__vibrated") == 2          # once per new call, not per redraw
        assert "Unknown item" in await page.inner_text("#tile-lane-05")
        await page.click("#tile-lane-05 button.approve")
        await page.wait_for_selector('#tile-lane-05[data-calls="0"]')
        assert [a["intervention_id"] for a in lanes.lanes["lane-05"].applied] == [first]
        # The lane's new status (its tile cleared) may reach the page before the command's own answer does.
        await page.wait_for_function("() => document.getElementById('notice').textContent.includes('Sato')")
        await page.wait_for_selector("#tile-lane-05 .last-action")
        assert (await tile_order(page))[0] == "lane-03"


async def test_a_heartbeat_redraws_nothing_so_a_tap_keeps_its_target(
        store: tuple[StationKit, AttendantLanes], browser: Browser) -> None:
    """Each lane event used to rebuild every tile: with 8 lanes beating each second, a tap could land on a node
    being replaced (Playwright's own click timed out on it)."""
    kit, lanes = store
    async with tablet(browser, kit, kit.badge()) as page:
        lanes.raise_call("lane-02", "unknown_item")
        await page.wait_for_selector("#tile-lane-02 button.approve")
        await page.evaluate("window.__button = document.querySelector('#tile-lane-02 button.approve')")
        seq = lanes.lanes["lane-02"].seq
        for _ in range(50):                      # heartbeat 1 s: lane-02 and the others publish again
            if lanes.lanes["lane-02"].seq > seq + 1:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)
        assert await page.evaluate("window.__button.isConnected")


async def test_two_pages_decide_at_once_and_the_loser_is_told_who(
        store: tuple[StationKit, AttendantLanes], browser: Browser) -> None:
    kit, lanes = store
    async with tablet(browser, kit, kit.badge("S-1", name="Aoki")) as one, \
            tablet(browser, kit, kit.badge("S-2", name="Kato")) as two:
        lanes.raise_call("lane-02", "unknown_item")
        for page in (one, two):
            await page.wait_for_selector("#tile-lane-02 button.approve")
        # Both taps in the same instant (a click in each page's own script, not Playwright's paced click).
        await asyncio.gather(one.evaluate("document.querySelector('#tile-lane-02 button.approve').click()"),
                             two.evaluate("document.querySelector('#tile-lane-02 button.reject').click()"))
        texts = []
        for page in (one, two):
            await page.wait_for_function("() => document.getElementById('notice').textContent.length > 0")
            texts.append(await page.inner_text("#notice"))
        assert len(lanes.lanes["lane-02"].applied) == 1
        winner = "Aoki" if lanes.lanes["lane-02"].applied[0]["staff_id"] == "S-1" else "Kato"
        assert sum("Already decided" in text and winner in text for text in texts) == 1, texts
        assert sum("done" in text and winner in text for text in texts) == 1, texts
        for page in (one, two):               # both tiles say who decided
            await page.wait_for_selector("#tile-lane-02 .last-action")
            assert winner in await page.inner_text("#tile-lane-02 .last-action")


async def test_stale_lanes_and_a_lost_broker_are_shown_then_caught_up(
        store: tuple[StationKit, AttendantLanes], browser: Browser, mqtt_broker: MosquittoBroker) -> None:
    kit, lanes = store
    async with tablet(browser, kit, kit.badge()) as page:
        lanes.silence("lane-04")
        await page.wait_for_selector('#tile-lane-04[data-state="stale"]', timeout=8000)
        assert "not heard from since" in await page.inner_text("#tile-lane-04")
        lanes.silence("lane-04", False)
        lanes.raise_call("lane-06", "unknown_item")
        await page.wait_for_selector("#tile-lane-06 .call")
        await asyncio.to_thread(mqtt_broker.kill)
        await page.wait_for_selector("#banner:not([hidden])")
        assert "Lost the store" in await page.inner_text("#banner")
        await asyncio.to_thread(mqtt_broker.start)
        await page.wait_for_selector("#banner[hidden]", state="attached", timeout=40000)
        await page.wait_for_selector("#tile-lane-06 .call", timeout=20000)


@pytest.mark.parametrize("lang", ["en", "ja"])
async def test_no_serious_accessibility_violation_and_every_control_44_px(
        store: tuple[StationKit, AttendantLanes], browser: Browser, lang: str) -> None:
    kit, lanes = store
    axe = Axe()
    found: list[str] = []
    small: list[str] = []

    async def check(page: Page, stop: str) -> None:
        results = await axe.run(page)
        found.extend(f"{stop}: {v['id']} ({v['impact']}) {[n['target'] for n in v['nodes']]}"
                     for v in results.response["violations"] if v["impact"] in ("serious", "critical"))
        targets: list[dict[str, Any]] = await page.evaluate(TARGETS_JS)
        assert targets, stop
        small.extend(f"{stop}: {t['what']!r} {t['width']:.0f}x{t['height']:.0f}" for t in targets
                     if t["width"] < 44 or t["height"] < 44)

    async with tablet(browser, kit, None, lang) as page:
        await check(page, "login")
        await page.fill("#token", kit.badge("S-9", role="supervisor"))
        await page.click("#login-form button[type=submit]")
        await page.wait_for_function("() => document.querySelectorAll('#tiles .tile').length === 8")
        lanes.raise_call("lane-01", "age_restricted")
        lanes.raise_call("lane-02", "unknown_item")
        await page.wait_for_selector("#tile-lane-02 .call")
        await check(page, "calls")
        await page.click("#tile-lane-02 .tools button >> nth=0")
        await page.wait_for_selector("dialog[open]")
        await check(page, "basket")
    assert not found, "\n".join(found)
    assert not small, "\n".join(small)
