"""A fake cloud catalog server: real HTTP on 127.0.0.1 serving generated snapshots, with fault knobs.

Snapshots are generated while they are sent (never held in memory), so a test or a benchmark can ask
for millions of records. Knobs: `fail_next(n, status)` (5xx and others), `drip_s` (slow drip),
`truncate` (the body stops half-way, cleanly, without its trailer), `drop` (the connection is cut
half-way), `wrong_checksum`, `stale_etag` (304 to any If-None-Match, whatever changed), `token`
(the bearer token required; None: no auth), `gzip`.

Run alone (for benchmarks, in its own process):
    python -m simulators.cloud.catalog_server --products 1000000 --members 0 [--gzip]
prints `ready http://127.0.0.1:PORT/catalog` and serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import zlib
from dataclasses import replace

from aiohttp import web

from simulators.cloud.catalog_data import SnapshotSpec, snapshot_lines

CHUNK_BYTES = 64 * 1024


class CatalogServer:
    """One catalog endpoint at `.url`; change `.spec` to publish a new snapshot."""

    def __init__(self, spec: SnapshotSpec | None = None, *, token: str | None = "test-token",
                 gzip: bool = True) -> None:
        self.spec = spec or SnapshotSpec()
        self.token = token
        self.gzip = gzip
        self.drip_s = 0.0
        self.truncate = False
        self.drop = False
        self.wrong_checksum = False
        self.stale_etag = False
        self.requests: list[dict[str, str]] = []
        self.statuses: list[int] = []
        self._failures: list[int] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    def fail_next(self, n: int = 1, status: int = 503) -> None:
        self._failures.extend([status] * n)

    def publish(self, **changes: object) -> SnapshotSpec:
        """Publish a new snapshot (for example `publish(version=3, products=500)`)."""
        self.spec = replace(self.spec, **changes)  # type: ignore[arg-type]
        return self.spec

    async def start(self, port: int = 0) -> str:
        app = web.Application()
        app.router.add_get("/catalog", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/catalog"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(dict(request.headers))
        response = await self._respond(request)
        self.statuses.append(response.status)
        return response

    async def _respond(self, request: web.Request) -> web.StreamResponse:
        if self.token is not None and request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.Response(status=401, text="bad or missing bearer token")
        if self._failures:
            return web.Response(status=self._failures.pop(0), text="injected failure")
        spec = self.spec
        asked = request.headers.get("If-None-Match")
        if asked and (self.stale_etag or asked == spec.etag):
            return web.Response(status=304, headers={"ETag": asked})
        compress = self.gzip and "gzip" in request.headers.get("Accept-Encoding", "")
        response = web.StreamResponse(headers={"ETag": spec.etag, "Content-Type": "application/x-ndjson",
                                               **({"Content-Encoding": "gzip"} if compress else {})})
        await response.prepare(request)
        await self._stream(request, response, spec, zlib.compressobj(1, wbits=31) if compress else None)
        return response

    async def _stream(self, request: web.Request, response: web.StreamResponse, spec: SnapshotSpec,
                      compressor: zlib._Compress | None) -> None:
        half = (spec.products + spec.members + len(spec.extra)) // 2
        chunk_bytes = 256 if self.drip_s else CHUNK_BYTES
        buffer: list[bytes] = []
        size = 0
        for number, line in enumerate(snapshot_lines(spec, wrong_checksum=self.wrong_checksum)):
            if request.transport is None or request.transport.is_closing():
                return   # the client gave up (a deadline); stop generating
            if (self.truncate or self.drop) and number == half:
                buffer.append(line[: len(line) // 2])
                break
            buffer.append(line)
            size += len(line)
            if size >= chunk_bytes:
                await self._send(response, b"".join(buffer), compressor)
                buffer, size = [], 0
        await self._send(response, b"".join(buffer), compressor)
        if self.drop and request.transport is not None:
            request.transport.abort()
            return
        if compressor is not None:
            await response.write(compressor.flush())
        await response.write_eof()

    async def _send(self, response: web.StreamResponse, data: bytes, compressor: zlib._Compress | None) -> None:
        if compressor is not None:
            data = compressor.compress(data)
        if data:
            await response.write(data)
        if self.drip_s:
            await asyncio.sleep(self.drip_s)


async def _serve(args: argparse.Namespace) -> None:
    server = CatalogServer(SnapshotSpec(products=args.products, members=args.members, version=args.version,
                                        shuffled=args.shuffled), token=args.token, gzip=args.gzip)
    url = await server.start(args.port)
    print(f"ready {url}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--members", type=int, default=0)
    parser.add_argument("--version", type=int, default=1)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="test-token")
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--shuffled", action="store_true")
    asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
