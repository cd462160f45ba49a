"""What the shopper reads on the screen where it used to mislead, in real Chromium: the previous shopper's paid
screen cleared by the next shopper's first action, prompts whose arguments fill the translated sentence, the
call-staff and suspend buttons, names and unit prices per line, the welcome screen's scanner hint."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_kiosk_harness import LANDSCAPE, PORTRAIT, KioskScreen, needs_chromium, open_screen, yen

from simulators.cloud.store_catalog import MEMBER, ONIGIRI, ORDER_READY, SNACK, TEA, beef_label
from simulators.fixtures.session import SessionLane

pytestmark = needs_chromium
ROOT = Path(__file__).resolve().parents[2]


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


def prompts_with_arguments() -> dict[str, set[str]]:
    """Every prompt the session writes with `args`, and the names of those arguments (read from the source)."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / "agent" / "session").rglob("*.py"):
        source = path.read_text()
        starts = [(m.start(), m.group(1)) for m in re.finditer(r'Prompt\(\s*"([a-z_]+)"', source)]
        for (start, code), (end, _) in zip(starts, [*starts[1:], (len(source), "")], strict=False):
            block = re.search(r"args=\{([^}]*)\}", source[start:end])
            if block:
                found.setdefault(code, set()).update(re.findall(r'"(\w+)":', block.group(1)))
    return found


def test_the_prompts_with_arguments_are_found() -> None:
    found = prompts_with_arguments()
    assert found["pickup_collected"] == {"compartment", "order"} and "pickup_opening" in found


@pytest.mark.parametrize("language", ["ja", "en"])
async def test_every_prompt_with_arguments_is_said_in_the_screens_language(session_lane: SessionLane,
                                                                           language: str) -> None:
    """Each such prompt drawn by the page's own renderer: the catalogue's sentence with the values filled in."""
    async with open_screen(session_lane, language=language) as screen:
        for code, names in sorted(prompts_with_arguments().items()):
            args = {name: f"{name[0].upper()}{len(name)}" for name in names}
            sentence = screen.t(f"prompt.{code}", **args)
            assert "{" not in sentence, f"prompt.{code} in {language}.json needs values the session does not send"
            view = {**session_lane.view, "prompts": [{"code": code, "message": "English fallback", "level": "info",
                                                      "args": args}]}
            await screen.page.evaluate("async (view) => (await import('/static/js/render.js')).render(view)", view)
            assert await screen.page.locator("#prompt").text_content() == sentence, code


async def test_a_pickup_is_said_in_japanese_on_the_japanese_screen(pickup_lane: SessionLane) -> None:
    async with open_screen(pickup_lane, language="ja") as screen:
        await pickup_lane.scan(pickup_lane.issuer.order(ORDER_READY, sub=MEMBER), "qr")
        await pickup_lane.settled()
        await screen.shows(screen.t("prompt.pickup_collected", compartment="A3", order=ORDER_READY))


async def test_call_staff_from_the_basket_raises_an_attendant_call(screen: KioskScreen,
                                                                   session_lane: SessionLane) -> None:
    await session_lane.scan(TEA)
    await screen.shows("Green tea 500ml")
    await screen.tap("#call-staff")
    await screen.state("needs_attendant")
    await screen.shows(screen.t("attendant_title"), screen.t("prompt.attendant_shopper_call"))
    assert [i["reason"] for i in session_lane.view["interventions"]] == ["shopper_call"]
    requested = [e for e in session_lane.events("omo.session/1") if e["event"] == "attendant_requested"]
    assert requested[-1]["reason"] == "shopper_call"
    assert not await screen.page.locator("#call-staff").is_visible(), "staff are already called"
    await session_lane.scan(session_lane.issuer.staff("S-7"), "qr")
    await screen.state("scanning")
    await screen.shows("Green tea 500ml")


async def test_call_staff_from_the_welcome_screen_opens_a_visit_that_waits_for_staff(
        screen: KioskScreen, session_lane: SessionLane) -> None:
    await session_lane.scan("4510000000999")            # not a code the store knows: the screen says ask staff
    await screen.shows(screen.t("prompt.invalid"))
    await screen.tap("#call-staff")
    await screen.state("needs_attendant")
    assert session_lane.view["session_id"] and session_lane.view["interventions"][0]["reason"] == "shopper_call"


async def test_the_offline_refusal_offers_suspend_and_takes_pay_away(screen: KioskScreen,
                                                                     session_lane: SessionLane) -> None:
    await session_lane.scan(TEA)
    await screen.shows("Green tea 500ml")
    assert not await screen.page.locator("#suspend").is_visible(), "nothing offers to put the basket aside yet"
    session_lane.offline_kinds = ("card", "cash")       # the uplink is down and the policy allows no wallet
    await screen.tap("#pay")
    await screen.shows(screen.t("prompt.payment_offline"))
    assert not await screen.page.locator("#pay").is_visible(), "paying was just refused"
    assert not await screen.page.locator("#pay-hint").is_visible(), "nor told to tap Pay"
    await screen.tap("#suspend")
    await screen.state("idle")
    code = session_lane.view["suspend_code"]
    await screen.shows(screen.t("prompt.suspended", code=code))


@pytest.mark.parametrize("language", ["ja", "en"])
async def test_a_weighed_line_shows_its_unit_price(session_lane: SessionLane, language: str) -> None:
    async with open_screen(session_lane, language=language) as screen:
        await session_lane.scan(beef_label(350), "gs1-128")      # 398 per 100 g x 350 g = 1,393
        line = session_lane.view["lines"][0]
        assert (line["weight_g"], line["unit"], line["unit_price"], line["gross"]) == (350, "100g", 398, 1393)
        detail = screen.page.locator("#lines .line .qty").first
        await screen.shows(yen(1393))
        assert await detail.text_content() == screen.t("weighed", weight=screen.t("weight", g=350),
                                                        price=screen.t("per_unit", price=yen(398),
                                                                       unit=screen.t("unit_100g")))


async def test_names_and_offers_are_in_the_screens_language(session_lane: SessionLane) -> None:
    async with open_screen(session_lane, language="ja") as screen:
        for code in (TEA, ONIGIRI, ONIGIRI):
            await session_lane.scan(code)
        await screen.shows("緑茶 500ml", "鮭おにぎり", f"{screen.t('discount_promotion')} "
                           f"{screen.t('promo_bundle', n=2, price=yen(300))}")
        for english in ("Green tea 500ml", "Salmon onigiri", "2 for 300"):
            assert not await screen.page.get_by_text(english).filter(visible=True).count(), english
        await screen.tap('#lines [data-void="L1"]')
        await screen.shows(screen.t("confirm_remove_body", name="緑茶 500ml"))
        await screen.tap("#confirm-no")
        await screen.tap("#lang")                          # the same basket in English
        await screen.shows("Green tea 500ml", "Salmon onigiri", "Offer 2 for ￥300")


async def test_a_name_missing_in_the_screens_language_falls_back_to_name(screen: KioskScreen,
                                                                         session_lane: SessionLane) -> None:
    await session_lane.scan(TEA)
    await screen.shows("Green tea 500ml")
    view = session_lane.view
    view["lines"][0]["names"] = {"ja": "緑茶 500ml"}      # no English name: the catalog's `name`
    view["lines"][0]["name"] = "Green tea (catalog name)"
    await screen.page.evaluate("async (view) => (await import('/static/js/render.js')).render(view)", view)
    await screen.shows("Green tea (catalog name)")


@pytest.mark.parametrize(("position", "language"), [("below", "ja"), ("right", "en"), ("left", "ja")])
async def test_the_welcome_screen_shows_where_to_scan(session_lane: SessionLane, position: str,
                                                      language: str) -> None:
    async with open_screen(session_lane, language=language, scanner_position=position) as screen:
        await screen.shows(screen.t("welcome_title"), screen.t(f"scan_where_{position}"))
        art = screen.page.locator("#welcome .scan-art")
        assert await art.is_visible()
        box = await art.bounding_box()
        assert box is not None and box["width"] >= 96 and box["height"] >= 96, "large enough to see from a step away"
        points = await screen.page.evaluate("() => document.body.dataset.scanner")
        assert points == position
        await screen.shot(f"welcome-{position}-{language}")


# Every visible text's line breaks, each checked against the word boundaries of Intl.Segmenter in the text's
# language (ICU's dictionary for Japanese): a break inside a word ("コー|ド", "mem|ber") is reported.
MID_WORD_BREAKS_JS = """() => {
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || !node.data.trim() || !el.checkVisibility() || el.closest('.visually-hidden')) continue;
    const lang = el.closest('[lang]')?.lang || 'en';
    const starts = new Set([...new Intl.Segmenter(lang, { granularity: 'word' }).segment(node.data)]
      .map((s) => s.index));
    let lastTop = null;
    for (let i = 0; i < node.data.length; i++) {
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const rect = range.getClientRects()[0];
      if (!rect || rect.width === 0) continue;
      if (lastTop !== null && rect.top > lastTop + rect.height / 2 && !starts.has(i)) {
        found.push(`${node.data.slice(0, i)}|${node.data.slice(i)}`);
      }
      lastTop = rect.top;
    }
  }
  return found;
}"""


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize("viewport", [LANDSCAPE, PORTRAIT], ids=["landscape", "portrait"])
async def test_text_wraps_only_between_words(session_lane: SessionLane, language: str,
                                             viewport: dict[str, int]) -> None:
    orientation = "landscape" if viewport is LANDSCAPE else "portrait"
    async with open_screen(session_lane, language=language, viewport=viewport) as screen:
        broken: list[str] = []
        await screen.shows(screen.t("welcome_hint"))
        broken += await screen.page.evaluate(MID_WORD_BREAKS_JS)
        await screen.shot(f"wrap-{language}-{orientation}-welcome")
        await session_lane.scan(TEA)
        session_lane.offline_kinds = ("card", "cash")
        await screen.tap("#pay")
        await screen.shows(screen.t("prompt.payment_offline"))
        broken += await screen.page.evaluate(MID_WORD_BREAKS_JS)
        await screen.shot(f"wrap-{language}-{orientation}-offline")
        await session_lane.scan("4510000000999")          # not a valid code: a long refusal, then call staff
        await screen.tap("#call-staff")
        await screen.state("needs_attendant")
        broken += await screen.page.evaluate(MID_WORD_BREAKS_JS)
        assert not broken, "\n".join(broken)


async def test_the_next_shopper_who_acts_on_the_paid_screen_gets_the_default_language(
        session_lane: SessionLane) -> None:
    async with open_screen(session_lane, language="ja") as screen:
        await screen.page.goto(screen.base + "/")           # the config's default: Japanese
        await session_lane.scan(TEA)
        await screen.tap("#lang")                           # this shopper reads English
        screen.language = "en"
        await paid_visit_tapped(screen)
        await session_lane.scan(SNACK)                      # the next shopper, before the end screen times out
        screen.language = "ja"
        await screen.shows(screen.t("prompt.sale_stop"), screen.t("welcome_title"))


async def paid_visit_tapped(screen: KioskScreen) -> None:
    await screen.tap("#pay")
    await screen.state("paid")
    await screen.shows(screen.t("paid_title"))
