"""One real lane for attendant tests: the agent (agent.app.start) on its own files, a pty scanner, trusted staff
and station keys, and a config pointed at a real mosquitto. Several rigs with their own `lane_id` make a store."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from agent import app
from agent.config import load
from simulators.cloud.broker import MosquittoBroker
from simulators.cloud.tokens import TokenIssuer
from simulators.devices.serial_pty import VirtualSerialScanner
from simulators.doubles.ports import free_port
from simulators.doubles.waiting import wait_until
from simulators.fixtures.daemon import render_toml
from simulators.fixtures.session import store_state

STORE, LANE = "store-001", "lane-01"


class Rig:
    """One lane's files, scanner and keys: `issuer` signs staff tokens the lane trusts, `station_key` the station's
    commands (give both to share them with a real station)."""

    def __init__(self, work: Path, broker: MosquittoBroker, issuer: TokenIssuer | None = None,
                 station_key: Ed25519PrivateKey | None = None, lane_id: str = LANE) -> None:
        self.work, self.broker, self.lane_id = work, broker, lane_id
        self.issuer = issuer or TokenIssuer()
        (work / "keys").mkdir()
        self.issuer.write_public_key(work / "keys")
        self.station_key = station_key or Ed25519PrivateKey.generate()
        (work / "stations").mkdir()
        (work / "stations" / "station-1.pub").write_bytes(self.station_key.public_key().public_bytes(
            Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
        store_state(work)
        self.scanner = VirtualSerialScanner("handheld")

    def config(self, protocol: str, remote: dict[str, str], light: dict[str, str] | None = None,
               interpret: dict[str, Any] | None = None, **attendant: Any) -> Path:
        path = self.work / "agent.toml"
        table = "".join(f'{reason} = "{where}"\n' for reason, where in remote.items())
        path.write_text(render_toml({
            "agent": {"store_id": STORE, "lane_id": self.lane_id, "state_dir": str(self.work / "state"),
                      "allow_simulators": True},
            "api": {"listen": f"127.0.0.1:{free_port()}"},
            "payment": {"adapter": "simulated"},
            "mqtt": {"host": "127.0.0.1", "port": self.broker.port, "protocol": protocol, "keepalive_s": 5,
                     "confirm_timeout_s": 2},
            "trust": {"keys": [str(self.issuer.key_path)]},
            "attendant": {"keys": [str(self.work / "stations" / "station-1.pub")], "heartbeat_s": 30, **attendant},
            "devices": [{"name": "handheld", "driver": "serial", "port": self.scanner.path}],
            **({"interpret": interpret} if interpret else {}),
        }) + (f"\n[attendant.remote]\n{table}" if remote else "") + (
            "\n[attendant.light]\n" + "".join(f'{k} = "{v}"\n' for k, v in light.items()) if light else ""))
        return path

    @contextlib.asynccontextmanager
    async def lane(self, protocol: str = "5", remote: dict[str, str] | None = None,
                   light: dict[str, str] | None = None, interpret: dict[str, Any] | None = None,
                   **attendant: Any) -> AsyncIterator[app.Lane]:
        lane = await app.start(load(self.config(protocol, remote or {}, light, interpret, **attendant)))
        try:
            await wait_until(lambda: lane.health.component("device:handheld").state == "ok"
                             and lane.health.component("mqtt").state == "ok", 15)
            yield lane
        finally:
            await app.stop(lane)

    async def call(self, lane: app.Lane, code: str, reason: str) -> dict[str, Any]:
        """Scan `code` and wait until the lane waits for staff for `reason`; returns that intervention."""
        self.scanner.scan(code, aim="]E0")
        await wait_until(lambda: any(i.reason == reason for i in lane.session.session.pending), 10)
        return next(i for i in lane.session.view()["interventions"] if i["reason"] == reason)
