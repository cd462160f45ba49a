"""The shopper's screen in real Chromium: a visit from welcome to paid, the keypad, voiding, both languages,
the offline banner and a dropped connection, each checked by what the page shows."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from test_kiosk_harness import KioskScreen, needs_chromium, open_screen, yen

from simulators.cloud.store_catalog import BEER, MEMBER, SNACK, TEA
from simulators.fixtures.secrets import sweep_secrets
from simulators.fixtures.session import SessionLane

pytestmark = needs_chromium


@pytest.fixture(autouse=True)
def no_secret_is_written_down(request: pytest.FixtureRequest) -> None:
    """Every journey here ends with the card-data sweep: lane.db, its WAL, the log, the outbox, the screen."""
    sweep_secrets(request)


@pytest.fixture
async def screen(session_lane: SessionLane) -> AsyncIterator[KioskScreen]:
    async with open_screen(session_lane, health_poll_s=0.2) as screen:
        yield screen


async def test_a_visit_from_welcome_to_paid(screen: KioskScreen, session_lane: SessionLane) -> None:
    await screen.shows("Welcome", "Scan an item, or show your app's member code.")

    await session_lane.scan(TEA)
    await screen.shows("Green tea 500ml", yen(150))
    await screen.shows(f"Pay {yen(150)}")

    await session_lane.scan(session_lane.issuer.member(MEMBER), "qr")
    await screen.shows("Gold member", "1,200 points", "Member price", f"−{yen(10)}", f"Pay {yen(140)}")

    await session_lane.scan(BEER)
    await screen.state("needs_attendant")
    await screen.shows("Please wait", "This item needs an age check.", "A member of staff is coming to help.")
    assert not await screen.page.locator("#pay").is_visible(), "nothing to pay while staff are called"

    await session_lane.scan(session_lane.issuer.staff("S-7"), "qr")
    await screen.state("scanning")
    await screen.shows("Craft beer 350ml")
    await screen.tap("#pay")
    await screen.state("paid")
    sale_id = session_lane.view["sale_id"]
    await screen.shows("Thank you!", sale_id, yen(session_lane.view["totals"]["amount_due"]))
    await screen.page.wait_for_function("() => document.getElementById('barcode').naturalWidth > 0")


async def test_the_keypad_adds_a_code_that_will_not_scan(screen: KioskScreen, session_lane: SessionLane) -> None:
    await screen.tap(".keypad-open")
    await screen.shows("Type the number under the barcode")
    for digit in TEA + "9":
        await screen.tap(f'#keypad [data-key="{digit}"]')
    await screen.tap("#keypad-delete")
    assert await screen.page.locator("#keypad-value").text_content() == TEA
    await screen.tap("#keypad-add")
    await screen.shows("Green tea 500ml")
    assert session_lane.events("omo.scan/1")[-1]["device"] == "keypad"


async def test_removing_a_line_asks_first(screen: KioskScreen, session_lane: SessionLane) -> None:
    await session_lane.scan(TEA)
    await screen.shows("Green tea 500ml")
    await screen.tap('#lines [data-void="L1"]')
    await screen.shows("Remove this item?", "Green tea 500ml will be taken off your basket.")
    await screen.tap("#confirm-no")
    assert session_lane.view["lines"], "keeping it keeps it"
    await screen.tap('#lines [data-void="L1"]')
    await screen.tap("#confirm-yes")
    await screen.shows("The item was removed.")
    assert session_lane.view["lines"] == []


async def test_a_refusal_is_said_in_the_shoppers_words(screen: KioskScreen, session_lane: SessionLane) -> None:
    await session_lane.scan(SNACK)
    await screen.shows("This item cannot be sold at the moment. Please put it aside.")
    assert await screen.page.locator("#prompt").get_attribute("class") == "banner warning"


async def test_one_switch_changes_every_word_and_the_page_language(screen: KioskScreen) -> None:
    await screen.tap("#lang")
    screen.language = "ja"
    await screen.shows(screen.t("welcome_hint"), screen.t("type_code"))
    assert await screen.page.evaluate("() => document.documentElement.lang") == "ja"
    assert await screen.page.locator("#lang").text_content() == "English"


async def test_without_a_query_the_config_default_language_is_used(screen: KioskScreen) -> None:
    await screen.page.goto(screen.base + "/")
    screen.language = "ja"                       # open_screen's config default
    await screen.shows(screen.t("welcome_title"))


async def test_a_new_shopper_gets_the_default_language_back(session_lane: SessionLane) -> None:
    async with open_screen(session_lane, language="ja", end_screen_s=0.5) as screen:
        await screen.page.goto(screen.base + "/")           # the config default: Japanese
        await session_lane.scan(TEA)
        await screen.tap("#lang")                           # this shopper reads English
        await screen.shows("Green tea 500ml", "Your basket")
        await screen.tap("#pay")
        await screen.shows("Thank you!")
        await screen.shows(screen.t("welcome_title"))       # the end screen timed out: Japanese again


async def test_the_uplink_down_shows_a_banner_and_selling_goes_on(screen: KioskScreen,
                                                                  session_lane: SessionLane) -> None:
    screen.health.component("mqtt").down("MQTT 127.0.0.1:1883: connection refused")
    await screen.shows("Offline — you can still pay")
    await session_lane.scan(TEA)
    await screen.tap("#pay")
    await screen.shows("Thank you!")
    screen.health.component("mqtt").ok()
    await screen.page.locator("#offline").wait_for(state="hidden", timeout=5000)


async def test_a_dropped_socket_recovers_the_exact_state(screen: KioskScreen, session_lane: SessionLane) -> None:
    await session_lane.scan(TEA)
    await screen.shows("Green tea 500ml")
    screen.gate.drop()
    await screen.shows("Reconnecting to the register")
    await session_lane.scan(session_lane.issuer.member(MEMBER), "qr")   # missed: no socket to hear it on
    await session_lane.scan(BEER)
    assert (await screen.view())["state"] == "scanning"
    screen.gate.reopen()
    await screen.state("needs_attendant")
    await screen.shows("Craft beer 350ml", "Gold member")
    await screen.page.locator("#reconnecting").wait_for(state="hidden", timeout=5000)
    async with aiohttp.ClientSession() as http, http.get(screen.base + "/v1/session") as response:
        assert await screen.view() == await response.json()
