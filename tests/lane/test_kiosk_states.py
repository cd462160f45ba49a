"""Every state of the shopper's screen, in both languages and both orientations: a screenshot of each (under
artifacts/kiosk/, checked to show its words and not to be blank), axe-core finding nothing serious or critical,
and no control under 44x44 CSS px.

One tour takes the real lane through every state; each test walks it and checks one thing at every stop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from axe_playwright_python.async_playwright import Axe
from test_kiosk_harness import (
    LANDSCAPE,
    PORTRAIT,
    ConfirmingPayments,
    FakeHeldPayments,
    KioskScreen,
    needs_chromium,
    open_screen,
    yen,
)

from agent.payment.simulated import SimulatedAdapter
from simulators.cloud.store_catalog import BATTERIES, BEER, MEMBER, ONIGIRI, TEA
from simulators.fixtures.secrets import sweep_secrets
from simulators.fixtures.session import SessionLane

pytestmark = needs_chromium
MIN_TARGET_PX = 44
MIN_TOTAL_PX = 24
WALLET = "281234567890123456"            # a wallet's code, shown to the scanner
# Every control the shopper can touch now (inside the open dialog, when one is), its size, and whether a
# finger on its centre lands on it (not clipped off the screen or covered by something else).
TARGETS_JS = """() => {
  const scope = document.querySelector('dialog[open]') ?? document;
  return [...scope.querySelectorAll('button, a[href], input, select, [role=button]')]
    .filter((el) => el.checkVisibility())
    .map((el) => { const r = el.getBoundingClientRect();
                   const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
                   return {what: el.id || el.dataset.key || el.dataset.void || el.textContent.trim(),
                           width: r.width, height: r.height, reachable: Boolean(hit && el.contains(hit))}; });
}"""


@dataclass(frozen=True)
class Stop:
    name: str
    expected: tuple[str, ...]          # what the screen must say at this stop


@pytest.fixture(autouse=True)
def no_secret_is_written_down(request: pytest.FixtureRequest) -> None:
    """Every journey here ends with the card-data sweep: lane.db, its WAL, the log, the outbox, the screen."""
    sweep_secrets(request, {"wallet code": WALLET})


async def tour(screen: KioskScreen) -> AsyncIterator[Stop]:
    """The lane through every state the shopper can see, yielding at each with the words it must show."""
    lane, t = screen.lane, screen.t
    assert lane.controller is not None
    yield Stop("welcome", (t("welcome_title"), t("welcome_hint")))

    await screen.tap(".keypad-open")
    for digit in "4510":
        await screen.tap(f'#keypad [data-key="{digit}"]')
    yield Stop("keypad", (t("keypad_title"), "4510"))
    await screen.tap("#keypad-close")

    for code in (TEA, TEA, ONIGIRI, ONIGIRI, BATTERIES):
        await lane.scan(code)
    await lane.scan(lane.issuer.member(MEMBER), "qr")
    rate = lane.view["totals"]["rates"][0]
    tea = "緑茶 500ml" if screen.language == "ja" else "Green tea 500ml"      # the catalog's `names`
    yield Stop("scanning", (tea, t("discount_member_price"), t("member_tier", tier=t("tier_gold")),
                            yen(lane.view["totals"]["amount_due"]),
                            t("tax_rate", rate="8%", total=yen(rate["total"]), tax=yen(rate["tax"]))))

    await screen.tap('#lines [data-void="L1"]')
    yield Stop("confirm-remove", (t("confirm_remove_title"), t("confirm_remove_yes")))
    await screen.tap("#confirm-no")

    await lane.scan(BEER)
    yield Stop("needs-attendant", (t("attendant_title"), t("prompt.attendant_age_restricted"), t("attendant_coming")))
    await lane.scan(lane.issuer.staff("S-7"), "qr")
    await screen.state("scanning")

    simulated = SimulatedAdapter("decline", app_pays_after_s=None)
    lane.use_adapter(simulated)
    await lane.scan(WALLET, "qr")
    yield Stop("declined", (t("prompt.payment_declined"),))

    lane.offline_kinds = ("card", "cash")            # the uplink is down and the policy allows no wallet
    await screen.tap("#pay")
    yield Stop("offline-refused", (t("prompt.payment_offline"), t("suspend_basket")))
    lane.offline_kinds = None
    await lane.scan(ONIGIRI)                         # the lane says something new: Pay is back

    simulated.outcome = "approve"
    await screen.tap("#pay")                         # the lane's QR, which the app does not pay
    await screen.state("paying")
    await screen.page.wait_for_function("() => document.getElementById('notice-qr').naturalWidth > 0")
    yield Stop("pay-by-qr", (t("qr_title"), t("qr_hint"), t("cancel_payment"),
                             t("qr_countdown").split("{m}")[0].strip()))
    await screen.tap("#cancel-payment")
    yield Stop("qr-cancelled", (t("prompt.payment_cancelled_by_shopper"),))

    held = FakeHeldPayments(simulated)
    lane.use_adapter(held)
    await lane.scan(WALLET, "qr")
    await screen.state("paying")
    yield Stop("paying", (t("paying_title"), t("paying_hint")))
    held.release()
    await screen.state("paid")
    await screen.page.wait_for_function("() => document.getElementById('barcode').naturalWidth > 0")
    yield Stop("paid", (t("paid_title"), t("sale_id"), lane.view["sale_id"]))

    await lane.scan(TEA)
    held = FakeHeldPayments(simulated, lost_reply=True)
    lane.use_adapter(held)
    await lane.scan(WALLET, "qr")
    yield Stop("checking-payment", (t("checking_title"), t("checking_hint")))
    held.release()
    await screen.state("paid")

    await lane.scan(TEA)
    confirming = ConfirmingPayments(simulated)
    lane.use_adapter(confirming)
    await lane.scan(WALLET, "qr")
    yield Stop("confirm-in-app", (t("confirm_title"), t("confirm_hint"), t("cancel_payment")))
    confirming.release()
    await screen.state("paid")
    lane.use_adapter(simulated)

    await lane.scan(TEA)
    await screen.tap("#cancel")
    yield Stop("confirm-cancel", (t("confirm_cancel_title"),))
    await screen.tap("#confirm-yes")
    yield Stop("cancelled", (t("ended_title"), t("ended_hint")))

    await lane.scan(TEA)
    screen.health.component("mqtt").down("MQTT 127.0.0.1:1883: connection refused")
    yield Stop("offline", (t("offline"), tea))
    screen.health.component("mqtt").ok()
    await screen.page.locator("#offline").wait_for(state="hidden", timeout=5000)

    async with aiohttp.ClientSession() as http:
        await http.post(screen.base + "/v1/lane/lock", json={"token": lane.issuer.staff("S-7")})
    yield Stop("locked", (t("closed_title"), t("closed_hint")))


@pytest.fixture(params=["en", "ja"])
def language(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize("viewport", [LANDSCAPE, PORTRAIT], ids=["landscape", "portrait"])
async def test_every_state_is_drawn_with_its_words(session_lane: SessionLane, language: str,
                                                   viewport: dict[str, int]) -> None:
    orientation = "landscape" if viewport is LANDSCAPE else "portrait"
    async with open_screen(session_lane, language=language, viewport=viewport, health_poll_s=0.2) as screen:
        number = 0
        async for stop in tour(screen):
            await screen.shows(*stop.expected)
            number += 1
            await screen.shot(f"{language}-{orientation}-{number:02d}-{stop.name}")
        assert number == 17


async def test_no_state_has_a_serious_accessibility_violation(session_lane: SessionLane, language: str) -> None:
    axe = Axe()
    found: list[str] = []
    async with open_screen(session_lane, language=language, health_poll_s=0.2) as screen:
        async for stop in tour(screen):
            await screen.shows(*stop.expected)
            results = await axe.run(screen.page)
            found += [f"{stop.name}: {v['id']} ({v['impact']}) {[n['target'] for n in v['nodes']]}"
                      for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("viewport", [LANDSCAPE, PORTRAIT], ids=["landscape", "portrait"])
async def test_every_control_is_on_screen_at_least_44_px_and_totals_24_px(session_lane: SessionLane,
                                                                viewport: dict[str, int]) -> None:
    small: list[str] = []
    async with open_screen(session_lane, viewport=viewport, health_poll_s=0.2) as screen:
        async for stop in tour(screen):
            await screen.shows(*stop.expected)
            targets: list[dict[str, Any]] = await screen.page.evaluate(TARGETS_JS)
            assert targets or stop.name in ("cancelled", "locked", "paid"), f"{stop.name}: nothing to touch?"
            small += [f"{stop.name}: {t['what']!r} {t['width']:.0f}x{t['height']:.0f}" for t in targets
                      if t["width"] < MIN_TARGET_PX or t["height"] < MIN_TARGET_PX]
            small += [f"{stop.name}: {t['what']!r} cannot be touched (off screen or covered)" for t in targets
                      if not t["reachable"]]
            if stop.name == "scanning":
                total_px = await screen.page.evaluate(
                    "() => parseFloat(getComputedStyle(document.getElementById('total')).fontSize)")
                assert total_px >= MIN_TOTAL_PX
    assert not small, "\n".join(small)
