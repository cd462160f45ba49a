"""Signed receipt IDs for the e-receipt link: the sale ID with an HMAC-SHA256 tag, so a link cannot be guessed
from another sale's and a tampered one is refused.

The tag is the HMAC's first 15 bytes (120 bits) in lower-case base32 without padding: 24 URL-safe characters that
survive a QR's alphanumeric mode and a shopper reading them aloud. The sale ID stays readable in the ID, because
it is printed on the receipt anyway; what the key protects is the right to name it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

TAG_BYTES = 15
SEPARATOR = "-"


def _tag(sale_id: str, key: bytes) -> str:
    digest = hmac.new(key, f"omo.receipt/1:{sale_id}".encode(), hashlib.sha256).digest()[:TAG_BYTES]
    return base64.b32encode(digest).decode("ascii").rstrip("=").lower()


def receipt_id(sale_id: str, key: bytes) -> str:
    """The signed receipt ID of `sale_id`: `{sale_id}-{tag}`."""
    if not key:
        raise ValueError("a receipt ID needs a signing key ([receipts] key_file)")
    return f"{sale_id}{SEPARATOR}{_tag(sale_id, key)}"


def verify(signed: str, key: bytes) -> str | None:
    """The sale ID a receipt ID names, or None when its tag is not this key's (tampered, or another store's)."""
    sale_id, separator, tag = signed.rpartition(SEPARATOR)
    if not separator or not sale_id or not key:
        return None
    return sale_id if hmac.compare_digest(tag, _tag(sale_id, key)) else None


def receipt_url(template: str, sale_id: str, key: bytes) -> str:
    """The e-receipt's URL: `template` with `{receipt_id}` replaced by the signed ID."""
    return template.replace("{receipt_id}", receipt_id(sale_id, key))
