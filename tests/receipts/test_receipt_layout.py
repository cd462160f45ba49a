"""The receipt on paper, read back from the ESC/POS simulator's parsed output (text, QR payload, barcode), not
from the layout's input: a mixed-rate member sale with a coupon and points, in Japanese and English, on 80 and
58 mm paper."""

from __future__ import annotations

from typing import Any

import pytest

from agent.receipts.layout import receipt_job
from agent.receipts.links import receipt_url, verify
from agent.receipts.text import width
from agent.session.rules import action_rules
from drivers.printers import PROFILES
from simulators.cloud.store_catalog import BATTERIES, COUPON_100, MEMBER, ONIGIRI, TEA
from simulators.devices.printer import parse_bytes
from simulators.fixtures.session import SessionLane

KEY = b"receipt-test-key-0123456789abcdef"
TEMPLATE = "https://r.example.com/{receipt_id}"


async def mixed_sale(lane: SessionLane) -> dict[str, Any]:
    """A member's sale: tea and onigiri at 8 %, batteries at 10 %, 100 off by coupon, 50 points spent."""
    issuer, controller, pipeline = lane.issuer, lane.controller, lane.pipeline
    assert controller is not None and pipeline is not None
    await lane.scan(issuer.member(MEMBER), "qr")
    for code in (TEA, ONIGIRI, ONIGIRI, BATTERIES):
        await lane.scan(code)
    await lane.scan(issuer.coupon(COUPON_100, sub=MEMBER), "qr")
    redeemed = await controller.apply(lambda s: action_rules.redeem_points(
        s, 50, pipeline.points_redemption_allowed(), controller.settings, controller.clock.time()))
    assert redeemed.change.ok
    await lane.checkout.pay("simulated")
    [sale] = lane.events("omo.sale/1")
    return sale


def printed(sale: dict[str, Any], profile: str, lang: str) -> Any:
    link = receipt_url(TEMPLATE, sale["sale_id"], KEY)
    [receipt] = parse_bytes(receipt_job({**sale["receipt"], "lane": "lane-7", "currency": "JPY"},
                                        PROFILES[profile], lang, link))
    return receipt, link


def yen(amount: int) -> str:
    """An amount as the printer prints it: Kanji mode has only the full-width yen sign."""
    return f"{'-' if amount < 0 else ''}￥{abs(amount):,}"


def line_with(receipt: Any, *words: str) -> str:
    found = [line for line in receipt.text_lines if all(w in line for w in words)]
    assert found, f"no printed line with {words}: {receipt.text_lines}"
    return found[0]


async def test_a_mixed_rate_member_sale_prints_as_a_qualified_invoice_in_japanese(session_lane: SessionLane) -> None:
    sale = await mixed_sale(session_lane)
    receipt, link = printed(sale, "tm-t20", "ja")
    assert receipt.cut
    assert "OMO Mart Test Store" in receipt.text_lines[0]
    line_with(receipt, "登録番号", "T9234567890123")
    line_with(receipt, "レーン", "lane-7")
    line_with(receipt, "取引番号", sale["sale_id"])
    rates = {r["rate"]: r for r in sale["tax_breakdown"]}
    eight, ten = rates["0.08"], rates["0.10"]
    assert yen(eight["total"]) in line_with(receipt, "8%対象")
    assert yen(ten["total"]) in line_with(receipt, "10%対象")
    taxes = [line for line in receipt.text_lines if "内消費税" in line]
    assert [t.split()[-1] for t in taxes] == [yen(eight["tax"]), yen(ten["tax"])]
    marked = [line.split("※")[0].strip() for line in receipt.text_lines if "※ " in line]
    assert len(marked) == 2 and "x2" in marked[1], f"tea and two onigiri marked, batteries not: {marked}"
    line_with(receipt, "※は軽減税率対象商品")
    coupon = next(d for d in sale["discounts"] if d["kind"] == "coupon")
    assert yen(-coupon["amount"]) in line_with(receipt, coupon["label"])
    line_with(receipt, "クーポン", COUPON_100)
    line_with(receipt, "ポイント利用", yen(-50))
    line_with(receipt, "獲得ポイント", f"{sale['points']}pt")
    assert yen(sale["total"]) in line_with(receipt, "合計")
    assert yen(sale["payment"]["amount"]) in line_with(receipt, "お支払い")
    assert sale["payment"]["amount"] == sale["total"] - 50
    assert receipt.barcodes == [("code128", sale["sale_id"])]
    assert receipt.qr_payloads == [link]
    assert verify(link.rsplit("/", 1)[1], KEY) == sale["sale_id"]


async def test_the_items_and_their_discounts_add_up_to_the_total(session_lane: SessionLane) -> None:
    """Each item is printed before its discounts and each discount once, under its (last) line: the printed
    column sums to the engine's total."""
    sale = await mixed_sale(session_lane)
    receipt, _ = printed(sale, "tm-t20", "en")
    start = next(i for i, line in enumerate(receipt.text_lines) if line.startswith("---"))
    end = next(i for i, line in enumerate(receipt.text_lines) if i > start and line.startswith("---"))
    amounts = [int(line.split()[-1].replace("￥", "").replace(",", "")) for line in receipt.text_lines[start + 1:end]
               if line.split() and line.split()[-1].lstrip("-").startswith("￥")]
    assert sum(amounts) == sale["total"]
    assert any(a < 0 for a in amounts), "the coupon is printed under the lines it reduces"


@pytest.mark.parametrize(("profile", "lang"), [("tm-t20-58", "en"), ("tm-t20-58", "ja"), ("tm-t88", "ja"),
                                               ("star-tsp100-escpos", "ja"), ("generic-58", "en")])
async def test_every_line_fits_the_paper_and_the_codes_read_back(session_lane: SessionLane, profile: str,
                                                                 lang: str) -> None:
    sale = await mixed_sale(session_lane)
    receipt, link = printed(sale, profile, lang)
    columns = PROFILES[profile].columns
    too_wide = [line.text for line in receipt.lines if line.kind == "text" and width(line.text) * line.width > columns]
    assert too_wide == [], "a line at double width takes twice its columns"
    assert receipt.barcodes == [("code128", sale["sale_id"])]
    if PROFILES[profile].native_qr:
        assert receipt.qr_payloads == [link]
    else:
        assert receipt.images == 1 and receipt.qr_payloads == []
    words = ("Total", "Registration No.", "10% items") if lang == "en" else ("合計", "登録番号", "10%対象")
    for word in words:
        line_with(receipt, word)


async def test_a_random_audits_differences_are_printed(session_lane: SessionLane) -> None:
    sale = await mixed_sale(session_lane)
    audit = [{"label": "Audit: quantity low", "kind": "quantity_low", "gtin": "04510000000024",
              "basket_quantity": 2, "found_quantity": 3}]
    [receipt] = parse_bytes(receipt_job({**sale["receipt"], "audit": audit}, PROFILES["tm-t20"], "en", None))
    assert line_with(receipt, "Audit: quantity low", "04510000000024", "x3")
    assert receipt.qr_payloads == [], "no link configured: no QR"
