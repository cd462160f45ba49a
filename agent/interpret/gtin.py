"""GTIN check digits and normalisation to GTIN-14 (EAN-13, EAN-8, UPC-A, UPC-E, ITF-14), plus prefix classes.

Written here rather than through biip's `Gtin.parse`: the router runs this on every scan, and a plain
string-and-arithmetic version is several times faster than building biip's prefix objects, which we do not need.
References: GS1 General Specifications section 7.9 (check digit), 5.2.2.4.2 (UPC-E), 1.4.x (prefix ranges).
"""

from __future__ import annotations

from enum import StrEnum

_LENGTHS = {8: "ean8", 12: "upca", 13: "ean13", 14: "gtin14"}


class GtinError(StrEnum):
    """Why a string is not a GTIN."""

    NOT_DIGITS = "not_digits"
    BAD_LENGTH = "bad_length"
    BAD_CHECK_DIGIT = "bad_check_digit"
    BAD_UPCE = "bad_upce"


class PrefixKind(StrEnum):
    """What the GS1 prefix of a GTIN-13 (or UPC-A) says the number is used for."""

    PRODUCT = "product"
    RESTRICTED = "restricted"      # 02, 20-29 (and UPC-A number system 2): store or region variable measure
    COMPANY_INTERNAL = "company_internal"   # 04, 040-049 and EAN-8 0/2: inside one company only
    COUPON = "coupon"              # 05 (UPC number system 5), 981-984, 99
    ISBN = "isbn"                  # 978, 979 (979-0 is ISMN, music, still a book-trade number)
    ISSN = "issn"                  # 977
    REFUND_RECEIPT = "refund_receipt"   # 980
    DEMO = "demo"                  # 952: GS1's demonstration prefix


def check_digit(body: str) -> int:
    """The GS1 mod-10 check digit of `body` (all digits but the check digit), weights 3,1 from the right."""
    total = 0
    odd = True
    for char in reversed(body):
        total += (ord(char) - 48) * (3 if odd else 1)
        odd = not odd
    return (10 - total % 10) % 10


def is_valid(code: str) -> bool:
    """True when `code` is 8, 12, 13 or 14 ASCII digits with a correct check digit."""
    return (len(code) in _LENGTHS and code.isascii() and code.isdigit()
            and check_digit(code[:-1]) == ord(code[-1]) - 48)


def expand_upce(code: str) -> str | GtinError:
    """UPC-E to its UPC-A (12 digits); accepts 6 digits (number system 0), 7 (no check) or 8 (checked)."""
    if not (code.isascii() and code.isdigit()):
        return GtinError.NOT_DIGITS
    if len(code) == 6:
        code = "0" + code
    if len(code) not in (7, 8) or code[0] not in "01":
        return GtinError.BAD_UPCE
    ns, d = code[0], code[1:7]
    last = d[5]
    if last in "012":
        body = ns + d[0:2] + last + "0000" + d[2:5]
    elif last == "3":
        body = ns + d[0:3] + "00000" + d[3:5]
    elif last == "4":
        body = ns + d[0:4] + "00000" + d[4]
    else:
        body = ns + d[0:5] + "0000" + last
    upca = body + str(check_digit(body))
    if len(code) == 8 and code[7] != upca[11]:
        return GtinError.BAD_CHECK_DIGIT
    return upca


def normalize(text: str, symbology: str = "") -> str | GtinError:
    """The GTIN-14 for a scanned EAN/UPC/ITF-14 text, or why it is not one.

    `symbology` matters only for 6-8 digit codes: "upce" expands UPC-E; anything else reads 8 digits as EAN-8.
    A "upce" of 12-13 digits is a decoder that expanded it already (zbar, zxing-cpp) and is read as it is.
    """
    if not (text.isascii() and text.isdigit()):
        return GtinError.NOT_DIGITS
    if (symbology == "upce" and len(text) <= 8) or (len(text) in (6, 7) and symbology in ("", "unknown")):
        expanded = expand_upce(text)
        if isinstance(expanded, GtinError):
            return expanded
        text = expanded
    if len(text) not in _LENGTHS:
        return GtinError.BAD_LENGTH
    if check_digit(text[:-1]) != ord(text[-1]) - 48:
        return GtinError.BAD_CHECK_DIGIT
    return text.zfill(14)


def source_format(text: str, symbology: str = "") -> str:
    """Which GTIN form a scanned text was ("ean13", "upce", ...), for events and tests."""
    if symbology == "upce":
        return "upce"
    return _LENGTHS.get(len(text), "unknown")


def shortest(gtin14: str) -> str:
    """The GTIN in its shortest usual form (GTIN-8, UPC-A 12, EAN-13 or GTIN-14), as printed under a barcode."""
    if gtin14.startswith("000000"):
        return gtin14[6:]
    if gtin14.startswith("00"):
        return gtin14[2:]
    if gtin14.startswith("0"):
        return gtin14[1:]
    return gtin14


def prefix_kind(gtin14: str) -> PrefixKind:
    """Classify a GTIN-14 by its GS1 prefix (indicator digit ignored; GTIN-8 by its own rules)."""
    if gtin14.startswith("000000"):
        return PrefixKind.COMPANY_INTERNAL if gtin14[6] in "02" else PrefixKind.PRODUCT
    p3 = gtin14[1:4]
    p2 = p3[:2]
    if p2 == "02" or "20" <= p2 <= "29":
        return PrefixKind.RESTRICTED
    if p2 == "04":
        return PrefixKind.COMPANY_INTERNAL
    if p2 in ("05", "99") or "981" <= p3 <= "984":
        return PrefixKind.COUPON
    if p3 in ("978", "979"):
        return PrefixKind.ISBN
    if p3 == "977":
        return PrefixKind.ISSN
    if p3 == "980":
        return PrefixKind.REFUND_RECEIPT
    if p3 == "952":
        return PrefixKind.DEMO
    return PrefixKind.PRODUCT
