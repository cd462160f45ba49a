"""The fake cloud's token issuer: an Ed25519 key pair and JWS compact tokens as the shopper app shows them.

Built on `cryptography` alone: signing a compact JWS is three base64url segments and one Ed25519 call, and a
JWT library would add a dependency (and `alg` negotiation we deliberately do not want) for nothing.
The `forge_*` helpers make the broken tokens the tests need.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _segment(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


@dataclass
class TokenIssuer:
    """One signing key named `kid`; `write_public_key(dir)` puts `<kid>.pub` where `[trust] keys` can point."""

    kid: str = "cloud-test"
    private_key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    key_path: Path | None = None     # set by write_public_key
    # Every signature this issuer made, so a journey can sweep the lane's files and payloads for them
    # (simulators/trials/secret_sweep.py): a token's signature must never be stored or sent on.
    signatures: list[str] = field(default_factory=list, repr=False)

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)

    def write_public_key(self, directory: Path) -> Path:
        path = directory / f"{self.kid}.pub"
        path.write_bytes(self.public_pem())
        self.key_path = path
        return path

    def sign(self, claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
        """Sign exactly these claims (no defaults added) under this key's kid."""
        head = _segment(header if header is not None else {"alg": "EdDSA", "kid": self.kid, "typ": "JWT"})
        body = _segment(claims)
        signature = b64url(self.private_key.sign(f"{head}.{body}".encode("ascii")))
        self.signatures.append(signature)
        return f"{head}.{body}.{signature}"

    def claims(self, typ: str, sub: str, *, ttl_s: int = 300, now: float | None = None,
               **extra: Any) -> dict[str, Any]:
        issued = int(time.time() if now is None else now)
        return {"typ": typ, "sub": sub, "iat": issued, "exp": issued + ttl_s, "jti": uuid.uuid4().hex, **extra}

    def member(self, sub: str = "M-0001", **kw: Any) -> str:
        return self.sign(self.claims("member", sub, **kw))

    def coupon(self, cid: str = "C-10OFF", sub: str = "M-0001", **kw: Any) -> str:
        return self.sign(self.claims("coupon", sub, cid=cid, **kw))

    def order(self, oid: str = "O-0001", sub: str = "M-0001", **kw: Any) -> str:
        return self.sign(self.claims("order", sub, oid=oid, **kw))

    def staff(self, sub: str = "S-0001", **kw: Any) -> str:
        return self.sign(self.claims("staff", sub, **kw))


def forge_payload(token: str, **changes: Any) -> str:
    """Same header and signature, claims changed: what an attacker editing the QR would produce."""
    head, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims.update(changes)
    return f"{head}.{_segment(claims)}.{signature}"
