"""The kiosk page's routes and files, without a browser: what is served, how, and what the page is made of."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from agent.api.events import EventHub
from agent.api.kiosk import STATIC_DIR, add_kiosk_routes, static_files
from agent.api.server import ApiServer
from agent.api.session_routes import SessionRoutes
from agent.api.settings import ApiSection
from agent.bagging.calls import MESSAGES as BAGGING_MESSAGES
from agent.health import HealthRegistry
from agent.session.rules import machine
from agent.session.rules.payment_prompts import RELEASED
from agent.session.rules.scan_rules import ATTENDANT_MESSAGES
from simulators.cloud.store_catalog import TEA
from simulators.doubles.ports import free_port
from simulators.fixtures.session import SessionLane

ROOT = Path(__file__).resolve().parents[2]
PAGE_BUDGET_BYTES = 100 * 1024


@pytest.fixture
async def base(session_lane: SessionLane) -> AsyncIterator[str]:
    assert session_lane.controller is not None and session_lane.pipeline is not None
    port = free_port()
    server = ApiServer(ApiSection(listen=f"127.0.0.1:{port}"), HealthRegistry("t"), EventHub())
    SessionRoutes(session_lane.controller, session_lane.pipeline, session_lane.checkout).add_to(server.app)
    add_kiosk_routes(server.app, session_lane.controller.view, default_language="en", health_poll_s=5)
    await server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.stop()


async def get(url: str) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, dict(response.headers), await response.read()


async def test_the_page_is_served_at_the_root_with_a_strict_content_policy(base: str) -> None:
    status, headers, body = await get(base + "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "connect-src 'self'" in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-cache"
    assert b'<script type="module" src="/static/js/main.js">' in body


async def test_the_pages_files_are_served_with_their_types(base: str) -> None:
    for path, kind in (("js/main.js", "text/javascript"), ("kiosk.css", "text/css"),
                       ("i18n/ja.json", "application/json")):
        status, headers, _ = await get(f"{base}/static/{path}")
        assert status == 200 and headers["Content-Type"].startswith(kind), path


@pytest.mark.parametrize("path", ["../kiosk.py", "..%2F..%2Fsession%2Fbasket.py", "nothing.js", "i18n"])
async def test_nothing_outside_the_pages_files_is_served(base: str, path: str) -> None:
    status, headers, body = await get(f"{base}/static/{path}")
    assert status == 404 and "detail" in json.loads(body)


async def test_the_config_gives_the_default_language_and_the_files_version(base: str) -> None:
    status, _, body = await get(base + "/kiosk-config.json")
    config = json.loads(body)
    assert status == 200 and config["default_language"] == "en" and config["languages"] == ["ja", "en"]
    assert config["health_poll_s"] == 5 and re.fullmatch(r"[0-9a-f]{16}", config["version"])


def test_an_unknown_default_language_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="ja, en"):
        add_kiosk_routes(web.Application(), dict, default_language="fr")


async def test_the_receipt_barcode_is_the_current_sales_code_128(base: str, session_lane: SessionLane) -> None:
    status, _, body = await get(base + "/v1/session/receipt-barcode.svg")
    assert status == 404 and "no sale yet" in json.loads(body)["detail"]
    await session_lane.scan(TEA)
    assert session_lane.controller is not None
    await session_lane.checkout.pay("simulated")
    status, headers, body = await get(base + "/v1/session/receipt-barcode.svg")
    assert status == 200 and headers["Content-Type"].startswith("image/svg+xml") and b"<svg" in body


def test_both_catalogues_have_the_same_keys() -> None:
    en, ja = (json.loads((STATIC_DIR / "i18n" / f"{lang}.json").read_text()) for lang in ("en", "ja"))
    assert sorted(en) == sorted(ja)
    assert all(value.strip() for value in (*en.values(), *ja.values()))


def prompt_codes() -> set[str]:
    """Every fixed prompt or refusal code the session writes (f-string codes such as invalid_* aside)."""
    source = "\n".join(p.read_text() for folder in ("session", "bagging")
                        for p in (ROOT / "agent" / folder).rglob("*.py"))
    codes = set(re.findall(r'Prompt\(\s*"([a-z_]+)"', source))
    codes |= set(re.findall(r'refuse\(session, "([a-z_]+)"', source))
    codes |= set(re.findall(r'return "([a-z_]+)", \(?"', source))      # the coupon checks' (code, message)
    codes |= set(re.findall(r'Refused\(\s*"([a-z_]+)"', source))          # the pickup checks
    codes |= set(re.findall(r'\(\s*"(pickup_[a-z_]+)", "', source))       # pickup refusals by visit state
    codes |= {f"payment_{reason}" for reason in RELEASED}                 # payment_released's prompts
    codes |= {f"attendant_{reason}" for reason in ATTENDANT_MESSAGES} | set(machine.MESSAGES)
    codes |= {f"attendant_{reason}" for reason in BAGGING_MESSAGES}        # the bagging scale's calls
    return codes - {"not_locked", "nothing_to_approve", "no_payment_in_progress", "already_in_session", "order_unknown",
                    "order_other_member", "order_in_progress", "order_cancelled", "order_not_ready", "order_collected"}


def test_every_prompt_the_shopper_can_see_is_translated() -> None:
    catalogue = json.loads((STATIC_DIR / "i18n" / "ja.json").read_text())
    codes = prompt_codes()
    assert len(codes) > 30
    missing = sorted(code for code in codes if f"prompt.{code}" not in catalogue)
    assert not missing, f"add these to static/i18n/en.json and ja.json: {missing}"


def test_the_page_loads_nothing_from_elsewhere_and_stays_under_100_kb() -> None:
    files = static_files()
    assert {p.name for p in files} >= {"index.html", "kiosk.css", "main.js", "en.json", "ja.json"}
    for path in files:
        text = path.read_text()
        urls = [u for u in re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"')]*", text)
                if u != "http://www.w3.org/2000/svg"]
        assert not urls, f"{path.name} refers to {urls}: the page must work with no network"
    assert sum(p.stat().st_size for p in files) < PAGE_BUDGET_BYTES
