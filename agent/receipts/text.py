"""Pure text for the receipt: the words in each language, amounts, and columns measured as the printer counts
them (a full-width character takes two columns of font A, an ASCII or half-width katakana one)."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

WORDS: Mapping[str, Mapping[str, str]] = {
    "ja": {"registration": "登録番号", "lane": "レーン", "sale": "取引番号", "total": "合計",
           "rate_base": "{rate}対象", "rate_tax": "内消費税", "reduced_note": "※は軽減税率対象商品",
           "coupon": "クーポン", "points_redeemed": "ポイント利用", "points_earned": "獲得ポイント",
           "paid": "お支払い", "reference": "取引参照", "e_receipt": "電子レシート", "copy": "再発行",
           "no_charge": "お支払いなし", "wallet_qr": "スマホ決済", "wallet_code": "スマホ決済",
           "simulated": "スマホ決済", "receipt": "領収書"},
    "en": {"registration": "Registration No.", "lane": "Lane", "sale": "Sale", "total": "Total",
           "rate_base": "{rate} items", "rate_tax": "incl. tax", "reduced_note": "※ reduced tax rate",
           "coupon": "Coupon", "points_redeemed": "Points used", "points_earned": "Points earned",
           "paid": "Paid", "reference": "Ref.", "e_receipt": "e-receipt", "copy": "REPRINT",
           "no_charge": "Nothing to pay", "wallet_qr": "Wallet", "wallet_code": "Wallet", "simulated": "Wallet",
           "receipt": "Receipt"},
}


def width(text: str) -> int:
    """Columns `text` takes on the printer: wide and ambiguous (※, Kanji) characters take two, and so does ¥,
    which Kanji mode prints as the full-width ￥ (drivers/escpos_text.py)."""
    return sum(1 if ord(c) < 0x80 or (c != "¥" and unicodedata.east_asian_width(c) in ("H", "Na")) else 2
               for c in text)


def fit(text: str, columns: int) -> str:
    """`text` cut to at most `columns` columns."""
    out, used = [], 0
    for c in text:
        if used + width(c) > columns:
            break
        out.append(c)
        used += width(c)
    return "".join(out)


def wrap(text: str, columns: int) -> list[str]:
    """`text` broken into lines of at most `columns` columns (by character: Japanese has no spaces to break at)."""
    lines: list[str] = []
    while text:
        head = fit(text, columns) or text[0]
        lines.append(head)
        text = text[len(head):].lstrip(" ")
    return lines or [""]


def row(left: str, right: str, columns: int) -> str:
    """`left` and `right` on one line of `columns`, `left` cut short when both do not fit."""
    left = fit(left, max(0, columns - width(right) - 1))
    return left + " " * (columns - width(left) - width(right)) + right


def money(amount: int, currency: str) -> str:
    """Minor units as printed: yen have none (`¥1,234`), other currencies two (`EUR 12.34`)."""
    if currency == "JPY":
        return f"{'-' if amount < 0 else ''}¥{abs(amount):,}"
    return f"{'-' if amount < 0 else ''}{currency} {abs(amount) // 100:,}.{abs(amount) % 100:02d}"


def when(rfc3339: str) -> str:
    """The sale's time in the lane's local time zone, to the minute."""
    moment = datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M")


def rate_label(rate: str) -> str:
    """A canonical rate ("0.08") as a percentage ("8%")."""
    percent = (Decimal(rate) * 100).normalize()
    return f"{percent:f}%"
