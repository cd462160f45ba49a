"""The shopper's screen on the deployed shape: the real daemon serving the page on its loopback listener, the pty
scanner, mosquitto and the ingest; Chromium shows what each scan did, the QR the simulated app pays, and the
paid screen with the sale the cloud received.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import expect, sync_playwright
from test_kiosk_harness import CHROMIUM, LAUNCH_ARGS, needs_chromium, yen

from simulators.cloud.store_catalog import MEMBER, ONIGIRI, TEA
from simulators.cloud.tokens import TokenIssuer
from simulators.devices.serial_pty import VirtualSerialScanner
from simulators.fixtures.daemon import AgentProcess
from simulators.fixtures.secrets import assert_daemon_clean
from simulators.fixtures.shop import api, ingest_payloads, started, until
from simulators.fixtures.sync import IngestProcess

pytestmark = needs_chromium


def test_scans_on_the_pty_reach_the_page_and_the_qr_is_paid_by_the_app(
        shop: Path, start_agent: Callable[..., AgentProcess], ingest: IngestProcess,
        serial_scanner_sim: VirtualSerialScanner, token_issuer: TokenIssuer) -> None:
    shop.write_text(shop.read_text().replace('adapter = "simulated"\n',
                                             'adapter = "simulated"\nsimulated_app_pays_after_s = 1.5\n'))
    agent = started(start_agent, shop)
    listen = re.search(r'listen = "([^"]+)"', shop.read_text()).group(1)  # type: ignore[union-attr]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1024, "height": 768})
            page.goto(f"http://{listen}/?lang=en")
            expect(page.get_by_text("Scan an item, or show your app's member code.")).to_be_visible()

            serial_scanner_sim.scan(TEA, aim="]E0")
            expect(page.locator("#lines")).to_contain_text("Green tea 500ml")
            serial_scanner_sim.scan(ONIGIRI, aim="]E0")
            serial_scanner_sim.scan(ONIGIRI, aim="]E0")
            serial_scanner_sim.scan(token_issuer.member(MEMBER), aim="]Q1")
            expect(page.locator("#member")).to_contain_text("Gold member")
            expect(page.locator("#lines")).to_contain_text("Offer")          # two onigiri for 300
            total = api(shop, "GET", "/v1/session")[1]["totals"]["amount_due"]
            expect(page.locator("#total")).to_have_text(yen(total))

            page.locator("#pay").click()
            expect(page.get_by_text("Scan the code with your wallet app")).to_be_visible()
            page.wait_for_function("() => document.getElementById('notice-qr').naturalWidth > 0")
            expect(page.get_by_text("Thank you!")).to_be_visible(timeout=10_000)     # the app paid the QR
            sale_id = api(shop, "GET", "/v1/session")[1]["sale_id"]
            expect(page.locator("#sale-id")).to_have_text(sale_id)
        finally:
            browser.close()
    [sale] = until(lambda: ingest_payloads(ingest, "omo.sale/1"), "the sale at the cloud")
    assert (sale["sale_id"], sale["total"], sale["payment"]["method"]) == (sale_id, total, "wallet_qr")
    assert_daemon_clean(token_issuer, state_dir=shop.parent / "state", outputs=[agent.output], ingest=ingest)
