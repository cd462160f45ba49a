"""`omo-edge attendant` at run time: load the keys, start the broker link and the HTTPS server, tick, stop cleanly.

The composition root of the station: it builds every part with what it needs and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from agent.errors import ConfigError, StartupError
from agent.interpret import tokens
from agent.station.settings import StationSettings
from agent.station.station import Station
from agent.station.web import Routes

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

logger = logging.getLogger(__name__)


def load_signing_key(path: Path) -> tuple[Ed25519PrivateKey, str]:
    """The station's Ed25519 private key (PEM) and its key ID, the file's stem (the lanes' `<kid>.pub`)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"{path} is not an unencrypted PEM private key ({exc}). Fix: make one with "
                          "`openssl genpkey -algorithm ed25519` (docs/attendant.md)",
                          key="[station] signing_key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path} holds a {type(key).__name__}, not an Ed25519 key. Fix: commands are signed with "
                          "Ed25519 (alg EdDSA)", key="[station] signing_key")
    return key, path.stem


def server_context(settings: StationSettings) -> ssl.SSLContext | None:
    section = settings.station
    if section.insecure_loopback_only:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(section.tls_cert), str(section.tls_key))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the server certificate and key ({exc}). Fix: tls_cert is the PEM "
                          "certificate (chain), tls_key its unencrypted key", path=settings.path,
                          key="[station] tls_cert") from exc
    return context


async def serve(settings: StationSettings, ready: asyncio.Event | None = None,
                stop: asyncio.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT (or `stop`, for tests)."""
    section = settings.station
    keys = tokens.load_keys(section.staff_keys)
    signing_key, kid = load_signing_key(section.signing_key)
    loop = asyncio.get_running_loop()
    station = Station(settings, keys, signing_key, kid, loop)
    runner = web.AppRunner(Routes(station, secure=not section.insecure_loopback_only).app(), access_log=None,
                           handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, section.host, section.port, ssl_context=server_context(settings), reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise StartupError(f"cannot listen on {section.host}:{section.port} ({exc.strerror}). Fix: stop what "
                           "listens there or change listen", path=settings.path, key="[station] listen") from exc
    stop = stop or asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    station.link.start()
    scheme = "http" if section.insecure_loopback_only else "https"
    logger.info("attendant station listening url=%s://%s:%s/ store=%s station=%s broker=%s:%s", scheme,
                section.host, section.port, section.store_id, section.station_id, settings.broker.host,
                settings.broker.port)
    if ready is not None:
        ready.set()
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await stop.wait()
            station.tick()
    finally:
        await runner.shutdown()
        await runner.cleanup()
        await asyncio.to_thread(station.link.stop)
