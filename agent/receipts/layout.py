"""The sale's structured receipt (agent/session/rules/receipt.py) as one ESC/POS job, for 58 and 80 mm paper.

Pure: bytes in, bytes out. python-escpos's `Dummy` printer builds the commands (alignment, emphasis, the QR and
the cut) and `drivers.escpos_text.kanji_bytes` the Japanese text, in the profile's Kanji mode or code page.
What is printed, in order: the issuer and its registration number, the date and time, the lane and the sale ID,
each item (※ on reduced-rate ones) with its discounts under it, coupons and points, the total and the tax per
rate, the payment with its masked reference, a Code 128 of the sale ID and a QR linking to the e-receipt.

An item's amount is printed before its discounts and each discount under the last line it reduces, so the
column adds up to the total the engine computed; nothing here computes money.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from agent.receipts.text import WORDS, money, rate_label, row, when, wrap

if TYPE_CHECKING:
    from drivers.printers import PrinterProfile

DOTS = {58: 384, 80: 576}      # printable dots across the paper, at 203 dpi
GS = b"\x1d"


def receipt_job(receipt: Mapping[str, Any], profile: PrinterProfile, lang: str = "ja", link: str | None = None,
                native_qr: bool = True, *, copy: bool = False) -> bytes:
    """The ESC/POS bytes of one receipt, ending with a cut.

    Args:
        receipt: the sale's `receipt` (with `lane` added by the caller).
        lang: "ja" or "en", the screen's language.
        link: the e-receipt's URL (a signed receipt ID), printed as a QR; None: no QR.
        native_qr: the printer draws the QR (`GS ( k`); False sends it as a raster image (slow on serial).
        copy: a staff reprint, marked as such.
    """
    from escpos.printer import Dummy

    from drivers.escpos_text import kanji_bytes

    words = WORDS["en" if lang == "en" else "ja"]
    printer = Dummy(profile=profile.escpos_profile)
    printer.hw("INIT")

    def say(text: str, **style: Any) -> None:
        printer.set(**{"align": "left", "bold": False, "normal_textsize": True, **style})
        printer._raw(kanji_bytes(text + "\n", profile))

    say(str(receipt.get("issuer") or ""), align="center", bold=True, double_height=True)
    if receipt.get("registration_number"):
        say(f"{words['registration']} {receipt['registration_number']}", align="center")
    if copy:
        say(f"** {words['copy']} **", align="center", bold=True)
    for line in _body(receipt, words, profile.columns, lang):
        say(line)
    say(row(words["total"], money(int(receipt["total"]), _currency(receipt)), profile.columns // 2),
        bold=True, double_height=True, double_width=True)
    for line in _footer(receipt, words, profile.columns):
        say(line)
    _barcode(printer, str(receipt["sale_id"]), profile.paper_mm)
    if link:
        printer.set(align="center")
        printer.qr(link, native=native_qr and profile.native_qr, size=4 if profile.paper_mm == 58 else 6,
                   center=not (native_qr and profile.native_qr))
        say(words["e_receipt"], align="center")
    printer.cut()
    return bytes(printer.output)


def _currency(receipt: Mapping[str, Any]) -> str:
    return str(receipt.get("currency") or "JPY")


def _body(receipt: Mapping[str, Any], words: Mapping[str, str], columns: int, lang: str) -> Iterator[str]:
    """The header lines and the items, each followed by the discounts it carries."""
    currency, rule = _currency(receipt), "-" * columns
    yield when(str(receipt["date"]))
    yield f"{words['lane']} {receipt.get('lane', '')}"
    sale = f"{words['sale']} {receipt['sale_id']}"
    yield from [sale] if len(sale) <= columns else [words["sale"], *wrap(str(receipt["sale_id"]), columns)]
    yield rule
    under = _discounts_under(receipt)
    for item in receipt["items"]:
        name = _name(item, lang, item.get("quantity", 1))
        shares = under.get(str(item.get("line_id")), [])
        gross = int(item["amount"]) + sum(share for _, share, _ in shares)
        *head, last = wrap(name, columns)
        yield from head
        yield row(last, money(gross, currency), columns)
        for label, _share, amount in shares:
            if amount:
                yield row(f"  {label}", money(-amount, currency), columns)
    yield rule


def _name(item: Mapping[str, Any], lang: str, quantity: Any) -> str:
    """The item's name in the screen's language when the catalog has it, its quantity when not one, and ※ when
    at a reduced rate."""
    reduced = bool(item.get("reduced")) or str(item["name"]).endswith(" ※")
    name = str((item.get("names") or {}).get(lang) or str(item["name"]).removesuffix(" ※"))
    return name + (f" x{quantity}" if quantity != 1 else "") + (" ※" if reduced else "")


def _discounts_under(receipt: Mapping[str, Any]) -> dict[str, list[tuple[str, int, int]]]:
    """Per line ID: (label, this line's share, the amount to print) of each discount; a discount reducing several
    lines is printed once, under the last of them, and each line's share is added back to its amount."""
    under: dict[str, list[tuple[str, int, int]]] = {}
    for discount in receipt.get("discounts", ()):
        shares = discount.get("lines") or []
        for index, share in enumerate(shares):
            printed = int(discount["amount"]) if index == len(shares) - 1 else 0
            under.setdefault(str(share["line_id"]), []).append((str(discount["label"]), int(share["amount"]),
                                                                printed))
    return under


def _footer(receipt: Mapping[str, Any], words: Mapping[str, str], columns: int) -> Iterator[str]:
    """The tax per rate, coupons and points, and the payment."""
    currency = _currency(receipt)
    for rate in receipt["rates"]:
        yield row(words["rate_base"].format(rate=rate_label(str(rate["rate"]))), money(int(rate["total"]), currency),
                  columns)
        yield row(f"  {words['rate_tax']}", money(int(rate["tax"]), currency), columns)
    if receipt.get("reduced_rate_note"):
        yield words["reduced_note"]
    for difference in receipt.get("audit", ()):     # a random audit's differences, as staff settled them
        yield from wrap(f"{difference['label']} {difference['gtin']} x{difference['found_quantity']}", columns)
    for coupon in receipt.get("coupons", ()):
        yield row(words["coupon"], str(coupon), columns)
    if receipt.get("points_redeemed"):
        yield row(words["points_redeemed"], money(-int(receipt["points_redeemed"]), currency), columns)
    payment = receipt.get("payment") or {}
    if payment:
        method = words.get(str(payment.get("method")), str(payment.get("method")))
        yield row(f"{words['paid']} {method}", money(int(payment.get("amount", 0)), currency), columns)
        if payment.get("reference"):
            yield row(f"  {words['reference']}", str(payment["reference"]), columns)
    if receipt.get("points_earned"):
        yield row(words["points_earned"], f"{receipt['points_earned']}pt", columns)


def code128_data(data: str) -> bytes:
    """`data` for `GS k` Code 128 with its code sets: B, and C (two digits a symbol) for runs of six digits or
    more, which keeps a 32-character sale ID narrow enough for 58 mm paper."""
    out, index, current = bytearray(), 0, ""
    while index < len(data):
        run = len(data[index:]) - len(data[index:].lstrip("0123456789"))
        if run >= 6 or (run >= 4 and index + run == len(data)):
            run -= run % 2
            out += b"" if current == "C" else b"{C"
            out += bytes(int(data[i:i + 2]) for i in range(index, index + run, 2))
            current, index = "C", index + run
            continue
        out += b"" if current == "B" else b"{B"
        out += data[index].encode("ascii").replace(b"{", b"{{")
        current, index = "B", index + 1
    return bytes(out)


def _barcode(printer: Any, sale_id: str, paper_mm: int) -> None:
    """The sale ID's Code 128, centred, its module as wide as the paper allows (1 to 3 dots); no text under it
    (the ID is printed above). Sent as `GS k` by hand: python-escpos refuses a 1-dot module, which a long ID
    needs on 58 mm."""
    data = code128_data(sale_id)
    symbols = len(data) - data.count(b"{") + 3          # start, check and stop symbols
    module = max(1, min(3, DOTS.get(paper_mm, 576) // (symbols * 11 + 2 + 20)))
    printer.set(align="center")
    printer._raw(GS + b"h" + bytes([80]) + GS + b"w" + bytes([module]) + GS + b"H\x00")
    printer._raw(GS + b"k" + bytes([73, len(data)]) + data)
    printer._raw(b"\n")
