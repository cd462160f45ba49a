"""Catalog snapshot pulls over HTTP: the only module that imports httpx; its errors become CloudError here.

The body is streamed to a file as it arrives (still gzip-compressed if the server compressed it), so
memory stays flat for any size, and nothing is loaded until the whole file is there and verified.
`deadline_s` bounds the whole pull, retries included: httpx's timeouts only bound each read, and a
server that drips one byte every few seconds would otherwise hold the pull for ever.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from pathlib import Path

import httpx

from agent.errors import CloudError

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
Transport = httpx.AsyncBaseTransport   # the seam tests and simulators plug into
RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Fetched:
    """The outcome of one pull: a new body in `path`, or `not_modified` (HTTP 304)."""

    not_modified: bool
    etag: str | None
    size: int = 0
    attempts: int = 1


class SnapshotClient:
    """Pulls `url` with a bearer token read from `token_file` on every pull (so rotation needs no restart)."""

    def __init__(self, url: str, *, token_file: Path | None, deadline_s: float, attempts: int = 4,
                 backoff_s: float = 1.0, backoff_max_s: float = 30.0, read_timeout_s: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = url
        self.token_file = token_file
        self.deadline_s = deadline_s
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self._timeout = httpx.Timeout(read_timeout_s, connect=min(10.0, read_timeout_s))
        self._transport = transport

    async def fetch(self, dest: Path, etag: str | None = None) -> Fetched:
        """Download the snapshot into `dest`, retrying transient failures, all within `deadline_s`.

        Raises:
            CloudError: the pull failed for good or ran out of time; `status` is the HTTP status (0: transport).
        """
        try:
            async with asyncio.timeout(self.deadline_s):
                return await self._with_retries(dest, etag)
        except TimeoutError:
            raise CloudError(f"catalog pull from {self.url} did not finish within deadline_s={self.deadline_s:g}; "
                             "the link is too slow or the server stalls: check the uplink or raise deadline_s",
                             0) from None

    async def _with_retries(self, dest: Path, etag: str | None) -> Fetched:
        headers = self._headers(etag)
        async with httpx.AsyncClient(transport=self._transport, timeout=self._timeout) as client:
            for attempt in range(1, self.attempts + 1):
                try:
                    fetched = await self._fetch_once(client, headers, dest)
                    return Fetched(fetched.not_modified, fetched.etag, fetched.size, attempt)
                except CloudError as exc:
                    if attempt == self.attempts or (exc.status and exc.status not in RETRYABLE):
                        raise
                    delay = self._delay(attempt)
                    logger.debug("catalog pull attempt %d failed (%s); retrying in %.1f s", attempt, exc, delay)
                    await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def _delay(self, attempt: int) -> float:
        """Exponential back-off with full jitter, so a store's lanes do not retry in step."""
        return random.uniform(0.5, 1.0) * min(self.backoff_max_s, self.backoff_s * 2.0 ** (attempt - 1))

    def _headers(self, etag: str | None) -> dict[str, str]:
        headers = {"Accept": "application/x-ndjson", "Accept-Encoding": "gzip"}
        if etag:
            headers["If-None-Match"] = etag
        if self.token_file is not None:
            try:
                token = self.token_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise CloudError(f"cannot read the catalog token file {self.token_file} ({exc}); check "
                                 "[catalog] token_file and its permissions", 0) from exc
            headers["Authorization"] = f"Bearer {token}"
        return headers

    async def _fetch_once(self, client: httpx.AsyncClient, headers: dict[str, str], dest: Path) -> Fetched:
        try:
            async with client.stream("GET", self.url, headers=headers) as response:
                if response.status_code == 304:
                    return Fetched(True, response.headers.get("ETag") or headers.get("If-None-Match"))
                if response.status_code != 200:
                    raise CloudError(_status_message(self.url, response.status_code), response.status_code)
                size = await _save(response, dest)
                return Fetched(False, response.headers.get("ETag"), size)
        except httpx.HTTPError as exc:
            raise CloudError(f"catalog pull from {self.url} failed: {type(exc).__name__}: {exc}", 0) from exc


async def _save(response: httpx.Response, dest: Path) -> int:
    """Write the raw (possibly gzip) body to `dest`; file writes go to a thread to keep the loop free."""
    size = 0
    with open(dest, "wb") as handle:   # noqa: ASYNC230 - writes below run in a thread
        async for chunk in response.aiter_raw(CHUNK_BYTES):
            await asyncio.to_thread(handle.write, chunk)
            size += len(chunk)
    return size


def _status_message(url: str, status: int) -> str:
    if status in (401, 403):
        return (f"the catalog server refused the token (HTTP {status}); check [catalog] token_file holds the "
                "store's current token")
    if status == 404:
        return f"no catalog at {url} (HTTP 404); check [catalog] url and the store_id in it"
    return f"catalog server answered HTTP {status} for {url}"
