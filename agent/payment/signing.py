"""Request signing in the shape of PayPay's Open Payment API (`OPA-Auth`): an HMAC-SHA256 over the request.

The signed text is the path, the method, a nonce, the epoch seconds, the content type and a hash of the
body, joined by newlines; the header carries the key ID, the signature, the nonce, the epoch and the body
hash. Pure (no I/O), so the adapter and the payment-service simulator share one definition and a test can
show a wrong secret or a stale epoch is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

EMPTY = "empty"
MAX_SKEW_S = 120


def body_hash(content_type: str, body: bytes) -> str:
    if not body:
        return EMPTY
    return base64.b64encode(hashlib.md5(content_type.encode() + body, usedforsecurity=False).digest()).decode()


def signature(secret: bytes, path: str, method: str, nonce: str, epoch: int, content_type: str,
              hashed: str) -> str:
    text = "\n".join([path, method.upper(), nonce, str(epoch), content_type if hashed != EMPTY else EMPTY, hashed])
    return base64.b64encode(hmac.new(secret, text.encode(), hashlib.sha256).digest()).decode()


def header(key_id: str, secret: bytes, path: str, method: str, nonce: str, epoch: int, content_type: str,
           body: bytes) -> str:
    """The `Authorization` header for one request."""
    hashed = body_hash(content_type, body)
    sig = signature(secret, path, method, nonce, epoch, content_type, hashed)
    return f"hmac OPA-Auth:{key_id}:{sig}:{nonce}:{epoch}:{hashed}"


def verify(value: str, secrets: dict[str, bytes], path: str, method: str, content_type: str, body: bytes,
           now: int) -> str | None:
    """None when the header is valid for this request; otherwise why not (for a 401's message)."""
    prefix = "hmac OPA-Auth:"
    if not value.startswith(prefix):
        return "no OPA-Auth authorization header"
    parts = value[len(prefix):].split(":")
    if len(parts) != 5:
        return "malformed OPA-Auth header"
    key_id, sig, nonce, epoch_text, hashed = parts
    secret = secrets.get(key_id)
    if secret is None:
        return f"unknown API key {key_id!r}"
    if not epoch_text.isdigit() or abs(now - int(epoch_text)) > MAX_SKEW_S:
        return "epoch too far from the service's clock"
    if hashed != body_hash(content_type, body):
        return "body hash does not match the body"
    expected = signature(secret, path, method, nonce, int(epoch_text), content_type, hashed)
    return None if hmac.compare_digest(expected, sig) else "signature does not match"
