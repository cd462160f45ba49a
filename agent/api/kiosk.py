"""The shopper's screen: the kiosk page's routes on the local API's own listener.

The page is plain HTML, CSS and JavaScript modules in `agent/api/static/`, served as they are: nothing from a
CDN, nothing built at run time, no listener of its own. It reads the session from `GET /v1/session` and
`/v1/events`, and acts through the session routes; this module only adds what the page itself needs:
`GET /` and its files, `GET /kiosk-config.json`, the payment's QR while the lane shows one (rendered here
with segno, so the page needs no QR library), and the receipt's barcode for the paid screen.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from aiohttp import web

from agent.session.rules.receipt import code128_svg

STATIC_DIR = Path(__file__).resolve().parent / "static"
LANGUAGES = ("ja", "en")
SCANNER_POSITIONS = ("below", "left", "right")      # where the scanner is, seen from the shopper
# The page loads only its own files and talks only to this listener, so a stray or injected URL goes nowhere.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
# Revalidate every load (a 304 is cheap on loopback): after an upgrade the screen never runs stale files.
NO_CACHE = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript", ".json": "application/json",
         ".svg": "image/svg+xml"}

View = Callable[[], dict[str, Any]]


def add_kiosk_routes(app: web.Application, view: View, *, default_language: str = "ja",
                     health_poll_s: float = 10.0, end_screen_s: float = 30.0, pay_by_qr: bool = True,
                     scan_to_pay: bool = True, scanner_position: str = "below",
                     receipt_link: Callable[[], str | None] = lambda: None) -> None:
    """Add the kiosk page's routes to the local API's application.

    Args:
        app: the local API's application (`ApiServer.app`), before it starts.
        view: the current session's view (`SessionController.view`), for the receipt's barcode.
        default_language: "ja" or "en"; `/?lang=en` overrides it for one screen.
        health_poll_s: how often the page reads `/v1/health` for the offline banner.
        end_screen_s: how long the paid or cleared screen stays before the welcome screen comes back.
        pay_by_qr: the payment adapter can show a QR the shopper's app pays (Pay asks for `wallet_qr`);
            else Pay asks for the `simulated` payment (a development lane).
        scan_to_pay: the adapter takes a wallet's code shown to the scanner (the screen says so).
        scanner_position: where the scanner is, seen from the shopper (below, left or right of the screen): the
            welcome screen points there.
        receipt_link: the e-receipt's link of the sale on the paid screen (agent/receipts), shown as a QR.

    Raises:
        ValueError: an unknown language or a poll interval that is not positive.
    """
    if default_language not in LANGUAGES:
        raise ValueError(f"kiosk default_language {default_language!r} is not one of {', '.join(LANGUAGES)}")
    if health_poll_s <= 0 or end_screen_s <= 0:
        raise ValueError("kiosk health_poll_s and end_screen_s must be more than 0 seconds")
    if scanner_position not in SCANNER_POSITIONS:
        raise ValueError(f"kiosk scanner_position {scanner_position!r} is not one of {', '.join(SCANNER_POSITIONS)}")
    config = {"default_language": default_language, "languages": list(LANGUAGES), "health_poll_s": health_poll_s,
              "end_screen_s": end_screen_s, "version": static_version(),
              "pay_method": "wallet_qr" if pay_by_qr else "simulated", "scan_to_pay": scan_to_pay,
              "scanner_position": scanner_position}

    async def index(request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html",
                                headers={**NO_CACHE, "Content-Security-Policy": CSP, "Content-Type": "text/html"})

    async def kiosk_config(request: web.Request) -> web.Response:
        return web.json_response(config, headers={"Cache-Control": "no-store"})

    async def barcode(request: web.Request) -> web.Response:
        sale_id = view().get("sale_id")
        if not sale_id:
            raise _not_found("no sale yet: the barcode is there once the basket is paid")
        return web.Response(text=code128_svg(sale_id), content_type="image/svg+xml",
                            headers={"Cache-Control": "no-store"})

    async def payment_qr(request: web.Request) -> web.Response:
        payment = view().get("payment") or {}
        payload = payment.get("qr_payload")
        if not payload or payment.get("status") != "waiting":
            raise _not_found("no payment QR now: it is there while the lane waits for the shopper's app")
        return web.Response(text=qr_svg(payload), content_type="image/svg+xml", headers={"Cache-Control": "no-store"})

    async def receipt_qr(request: web.Request) -> web.Response:
        link = receipt_link()
        if not link:
            raise _not_found("no e-receipt now: its code is there on the paid screen when the lane has a link")
        return web.Response(text=qr_svg(link), content_type="image/svg+xml", headers={"Cache-Control": "no-store"})

    app.router.add_get("/", index)
    app.router.add_get("/v1/session/receipt-qr.svg", receipt_qr)
    app.router.add_get("/v1/session/payment-qr.svg", payment_qr)
    app.router.add_get("/kiosk-config.json", kiosk_config)
    app.router.add_get("/static/{path:.+}", static_file)
    app.router.add_get("/v1/session/receipt-barcode.svg", barcode)


@lru_cache(maxsize=8)
def qr_svg(payload: str) -> str:
    """The payment's QR as SVG: dark modules on white with the standard four-module quiet zone, scaled by the
    page (no fixed size), error correction M as wallet apps expect on a screen."""
    import segno  # at the first QR: the daemon does not load it unless the lane shows one

    out = io.BytesIO()
    segno.make(payload, error="m", micro=False).save(out, kind="svg", border=4, xmldecl=False, svgns=True,
                                                       dark="#000", light="#fff", omitsize=True)
    return out.getvalue().decode()


async def static_file(request: web.Request) -> web.FileResponse:
    """One of the page's own files; anything outside static/ or of another type is not found."""
    path = (STATIC_DIR / request.match_info["path"]).resolve()
    if not path.is_relative_to(STATIC_DIR) or path.suffix not in TYPES or not path.is_file():
        raise _not_found("no such file in the kiosk page")
    return web.FileResponse(path, headers={**NO_CACHE, "Content-Type": TYPES[path.suffix]})


def static_files() -> list[Path]:
    """Every file the page is made of (what the page costs to load, and what its version is taken from)."""
    return sorted(p for p in STATIC_DIR.rglob("*") if p.is_file() and p.suffix in TYPES)


def static_version() -> str:
    """A digest of the page's files: a screen left running reloads itself when the agent serves new ones."""
    digest = hashlib.sha256()
    for path in static_files():
        digest.update(path.relative_to(STATIC_DIR).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _not_found(detail: str) -> web.HTTPNotFound:
    return web.HTTPNotFound(text=json.dumps({"detail": detail}), content_type="application/json")
