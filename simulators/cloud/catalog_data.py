"""Generated catalogs of any size, line by line in constant memory, in the contract's JSON Lines format.

Record `i` is always the same product or member, so tests can look one up without keeping the catalog.
`shuffled=True` emits records in a scrambled (but deterministic) key order, as a real export might.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def gtin_for(i: int) -> str:
    """The GTIN-14 of generated product `i` (a JAN/EAN-13 starting 49, zero-padded)."""
    body = f"049{i:010d}"
    odd = sum(int(c) for c in body[0::2])
    even = sum(int(c) for c in body[1::2])
    return body + str((10 - (3 * odd + even) % 10) % 10)


def price_for(i: int) -> int:
    return 100 + (i * 37) % 900


def member_id_for(i: int) -> str:
    return f"M{i:09d}"


def card_for(i: int) -> str:
    return f"99{i:010d}"


def product_line(i: int, version: int) -> bytes:
    price = price_for(i)
    return (b'{"gtin":"%s","name":"Item %d","price":%d,"tax_rate":"0.08","member_price":%d,'
            b'"age_restricted":%s,"version":%d}\n'
            % (gtin_for(i).encode(), i, price, price - 10, b"true" if i % 50 == 0 else b"false", version))


def member_line(i: int, version: int) -> bytes:
    return (b'{"kind":"member","id":"%s","tier":"%s","status":"active","points":%d,"cards":["%s"],'
            b'"consent_interest":%s,"version":%d}\n'
            % (member_id_for(i).encode(), b"gold" if i % 10 == 0 else b"basic", i % 5000, card_for(i).encode(),
               b"true" if i % 2 else b"false", version))


def _order(n: int, shuffled: bool) -> Iterator[int]:
    """0..n-1, or a fixed permutation of it (multiplication by a number coprime to n)."""
    if not shuffled or n < 3:
        yield from range(n)
        return
    step = 7919
    while math.gcd(step, n) != 1:
        step += 2
    for i in range(n):
        yield (i * step) % n


@dataclass(frozen=True)
class SnapshotSpec:
    """What a generated snapshot holds; `extra` are further lines (promotions, coupons, policy...)."""

    products: int = 100
    members: int = 0
    version: int = 1
    record_version: int | None = None
    extra: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    shuffled: bool = False

    @property
    def etag(self) -> str:
        return f'"v{self.version}-{self.products}-{self.members}-{len(self.extra)}"'


def record_lines(spec: SnapshotSpec) -> Iterator[bytes]:
    version = spec.record_version or spec.version
    for i in _order(spec.products, spec.shuffled):
        yield product_line(i, version)
    for i in _order(spec.members, spec.shuffled):
        yield member_line(i, version)
    for item in spec.extra:
        yield json.dumps({"version": version, **item}).encode() + b"\n"


def snapshot_lines(spec: SnapshotSpec, *, wrong_checksum: bool = False, count_offset: int = 0) -> Iterator[bytes]:
    """Every record line, then the trailer with count and sha256 (deliberately wrong if asked)."""
    digest = hashlib.sha256()
    count = 0
    for line in record_lines(spec):
        digest.update(line)
        count += 1
        yield line
    checksum = "0" * 64 if wrong_checksum else digest.hexdigest()
    trailer = {"kind": "trailer", "version": spec.version, "count": count + count_offset, "sha256": checksum}
    yield json.dumps(trailer).encode() + b"\n"


def write_snapshot(path: Path, spec: SnapshotSpec, *, compress: bool = False) -> Path:
    """Write a generated snapshot to a file (gzip when asked)."""
    with (gzip.open(path, "wb", compresslevel=1) if compress else open(path, "wb")) as handle:
        buffer: list[bytes] = []
        for line in snapshot_lines(spec):
            buffer.append(line)
            if len(buffer) >= 10000:
                handle.write(b"".join(buffer))
                buffer.clear()
        handle.write(b"".join(buffer))
    return path


def write_lines(path: Path, lines: Iterable[dict[str, Any]], *, version: int) -> Path:
    """A snapshot file from explicit records (tests), with a correct trailer."""
    body = [json.dumps(line).encode() + b"\n" for line in lines]
    trailer = {"kind": "trailer", "version": version, "count": len(body),
               "sha256": hashlib.sha256(b"".join(body)).hexdigest()}
    path.write_bytes(b"".join(body) + json.dumps(trailer).encode() + b"\n")
    return path


def delta_payload(base: int, version: int, lines: Iterable[dict[str, Any]] = ()) -> bytes:
    """An MQTT delta: the header line, then upserts and deletes (each given its version if it has none)."""
    body = [json.dumps({"kind": "delta", "base": base, "version": version})]
    body += [json.dumps({"version": version, **line}) for line in lines]
    return ("\n".join(body) + "\n").encode()
