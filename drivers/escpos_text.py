"""Japanese text as ESC/POS bytes: the Kanji mode python-escpos lacks (pure; no I/O).

A Japanese receipt printer prints Kanji in one of two ways. Most Epson-class models have a Kanji mode: `FS &`
enters it, `FS .` leaves it, and `FS C n` says how the two-byte codes inside are written (0 = JIS, 1 = Shift_JIS).
Others print only from a code page, where the katakana page (`ESC t 1`) has the half-width katakana of JIS X 0201
and no Kanji at all. `kanji_bytes` writes a line for either, as the profile says:

- ASCII stays outside Kanji mode (a JIS Kanji mode reads every byte pair as one character, so ASCII inside it
  would print as Kanji);
- Kanji, kana and full-width signs go inside it, as Shift_JIS (cp932, which has the signs receipts use: ※, ￥)
  or JIS X 0208;
- half-width katakana are widened to full width in Kanji mode (one code system for the whole line), and in
  code-page mode full-width katakana are narrowed to the half-width ones the katakana page has;
- a character the printer cannot print becomes `?`, never a wrong character.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from drivers.printers import PrinterProfile

FS, ESC = b"\x1c", b"\x1b"
KANJI_ON, KANJI_OFF = FS + b"&", FS + b"."
KANJI_SYSTEM = {"fs_jis": FS + b"C\x00", "fs_shift_jis": FS + b"C\x01"}
KATAKANA_PAGE, LATIN_PAGE = ESC + b"t\x01", ESC + b"t\x00"
_SIGNS = {"\u00a5": "\uffe5", "\u203e": "\uffe3"}        # ¥ and overline: the full-width forms Shift_JIS has
_DAKUTEN = {"\u3099": "\uff9e", "\u309a": "\uff9f"}
# Full-width katakana (and the marks) -> half-width, built from the half-width block's own compatibility mapping.
_NARROW = {unicodedata.normalize("NFKC", chr(c)): chr(c) for c in range(0xFF61, 0xFFA0)}


def widen(text: str) -> str:
    """Half-width katakana as full-width (ｶﾞ -> ガ), other characters unchanged."""
    out: list[str] = []
    for ch in text:
        if 0xFF61 <= ord(ch) <= 0xFF9F:
            if ch in "\uff9e\uff9f" and out:             # a voicing mark joins the kana before it
                joined = unicodedata.normalize("NFC", out[-1] + ("\u3099" if ch == "\uff9e" else "\u309a"))
                if len(joined) == 1 and _in_jis(joined):    # ｳﾞ is ヴ; う with ﾞ has no code (ゔ): kept apart
                    out[-1] = joined
                    continue
            if ch in "\uff9e\uff9f":                   # a mark on its own: the spacing form JIS X 0208 has
                out.append("\u309b" if ch == "\uff9e" else "\u309c")
                continue
            out.append(unicodedata.normalize("NFKC", ch))
        else:
            out.append(_SIGNS.get(ch, ch))
    return "".join(out)


def _in_jis(ch: str) -> bool:
    """Whether JIS X 0208 (so both Kanji code systems) has `ch`."""
    try:
        return len(ch.encode("euc_jp")) == 2 and len(ch.encode("cp932")) == 2
    except UnicodeEncodeError:
        return False


def narrow(text: str) -> str:
    """Full-width katakana as half-width (ガ -> ｶﾞ), for the katakana code page; other characters unchanged."""
    out: list[str] = []
    for ch in text:
        if ch in _NARROW:
            out.append(_NARROW[ch])
            continue
        parts = unicodedata.normalize("NFD", ch)
        if len(parts) == 2 and parts[0] in _NARROW and parts[1] in _DAKUTEN:
            out.append(_NARROW[parts[0]] + _DAKUTEN[parts[1]])
        else:
            out.append(ch)
    return "".join(out)


def _two_byte(ch: str, method: str) -> bytes | None:
    """The character's two-byte code in `method`, or None when it has none."""
    try:
        if method == "fs_shift_jis":
            code = ch.encode("cp932")
            return code if len(code) == 2 else None
        code = ch.encode("euc_jp")                        # EUC-JP is JIS X 0208 with the high bits set
        return bytes(b & 0x7F for b in code) if len(code) == 2 else None
    except UnicodeEncodeError:
        return None


def kanji_bytes(text: str, profile: PrinterProfile) -> bytes:
    """`text` (one line, no newline added) as bytes for `profile`'s printer: Kanji mode runs or the code page."""
    if profile.kanji == "codepage":
        return _codepage_bytes(text)
    method = profile.kanji
    out = bytearray()
    in_kanji = False
    selected = False
    for ch in widen(text):
        if ord(ch) < 0x80:
            if in_kanji:
                out += KANJI_OFF
                in_kanji = False
            out += ch.encode("ascii")
            continue
        code = _two_byte(ch, method)
        if code is None:
            if in_kanji:
                out += KANJI_OFF
                in_kanji = False
            out += b"?"
            continue
        if not in_kanji:
            if not selected:
                out += KANJI_SYSTEM[method]
                selected = True
            out += KANJI_ON
            in_kanji = True
        out += code
    if in_kanji:
        out += KANJI_OFF
    return bytes(out)


def _codepage_bytes(text: str) -> bytes:
    """ASCII and half-width katakana from the katakana page (ESC t 1); anything else is `?`."""
    out = bytearray()
    for ch in narrow(text):
        if ord(ch) < 0x80:
            out += ch.encode("ascii")
        elif 0xFF61 <= ord(ch) <= 0xFF9F:
            out += ch.encode("cp932")                     # 0xA1..0xDF: the katakana page's codes
        else:
            out += b"?"
    return bytes(KATAKANA_PAGE + out + LATIN_PAGE) if any(b >= 0x80 for b in out) else bytes(out)
