"""The attendant station set up for tests and the bench: its keys, staff badges, a config file, and the real
service (`agent.station.service.serve`) running on this loop with plain HTTP on 127.0.0.1, or as a process.

`StationKit.write(directory)` makes everything the station and the fake lanes (simulators/lanes/attendant_lanes.py)
need: the station's signing key (`station-1.key`, its public half for the lanes), a staff token issuer whose
public key is the station's `staff_keys_dir`, and `attendant.toml`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from agent.station import service, settings
from simulators.cloud.tokens import TokenIssuer
from simulators.doubles.ports import free_port


@dataclass
class StationKit:
    """Keys, badges and config of one test station in `directory`."""

    directory: Path
    broker_port: int
    store_id: str = "store-001"
    station_id: str = "station-1"
    reply_timeout_s: float = 3.0
    session_idle_s: int = 900
    session_ttl_s: int = 8 * 3600
    protocol: str = "5"
    port: int = field(default_factory=free_port)
    https: tuple[Path, Path] | None = None                  # the page's certificate and key: HTTPS, not loopback-only
    broker_tls: tuple[Path, Path, Path] | None = None       # CA, client certificate and key for the broker
    issuer: TokenIssuer = field(default_factory=lambda: TokenIssuer(kid="staff-test"))
    signing_key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    def __post_init__(self) -> None:
        for name in ("staff-keys", "station-keys"):
            (self.directory / name).mkdir(parents=True, exist_ok=True)
        self.issuer.write_public_key(self.directory / "staff-keys")
        key = self.directory / f"{self.station_id}.key"
        key.write_bytes(self.signing_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
        key.chmod(0o600)
        self.station_public = self.directory / "station-keys" / f"{self.station_id}.pub"
        self.station_public.write_bytes(self.signing_key.public_key().public_bytes(
            Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
        self.config = self.directory / "attendant.toml"
        self.config.write_text(self.toml())

    @property
    def staff_key_paths(self) -> list[Path]:
        return sorted((self.directory / "staff-keys").glob("*.pub"))

    @property
    def url(self) -> str:
        return f"{'https' if self.https else 'http'}://127.0.0.1:{self.port}"

    def toml(self) -> str:
        web = (f'tls_cert = "{self.https[0]}"\ntls_key = "{self.https[1]}"\n' if self.https
               else "insecure_loopback_only = true\n")
        broker = (f'tls = true\nca_file = "{self.broker_tls[0]}"\ncert_file = "{self.broker_tls[1]}"\n'
                  f'key_file = "{self.broker_tls[2]}"\n' if self.broker_tls else "tls = false\n")
        return (f'[station]\nstation_id = "{self.station_id}"\nstore_id = "{self.store_id}"\n'
                f'listen = "127.0.0.1:{self.port}"\n{web}'
                f'signing_key = "{self.directory / (self.station_id + ".key")}"\n'
                f'staff_keys_dir = "{self.directory / "staff-keys"}"\nreply_timeout_s = {self.reply_timeout_s}\n'
                f'session_idle_s = {self.session_idle_s}\nsession_ttl_s = {self.session_ttl_s}\n\n'
                f'[broker]\nhost = "127.0.0.1"\nport = {self.broker_port}\n{broker}'
                f'protocol = "{self.protocol}"\n')

    def badge(self, staff_id: str = "S-0001", *, role: str | None = None, name: str | None = None,
              ttl_s: int = 3600) -> str:
        """A staff member's token as the badge carries it."""
        extra = {k: v for k, v in (("role", role), ("name", name)) if v is not None}
        return self.issuer.staff(staff_id, ttl_s=ttl_s, **extra)


@contextlib.asynccontextmanager
async def running_station(kit: StationKit) -> AsyncIterator[StationKit]:
    """The real station service on this loop until the block ends."""
    loaded = settings.load(kit.config)
    ready, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(service.serve(loaded, ready=ready, stop=stop))
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        task.result()
    try:
        yield kit
    finally:
        stop.set()
        await task
