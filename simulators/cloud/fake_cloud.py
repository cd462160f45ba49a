"""The whole fake cloud a lane talks to, on 127.0.0.1: what `omo-edge simulate cloud` runs beside a register.

- mosquitto (when installed) and the reference ingest, which acknowledges each event on the lane's `acks`;
- the catalog server with the store's catalog (simulators/cloud/store_catalog.py);
- the token issuer: its public key is written for `[trust] keys`, and it signs member, coupon and order codes;
- the payment service in PayPay's shape (simulators/cloud/payment_service.py), its API secret in a file, with
  its notifications relayed to the lane as `payment.notify` commands over MQTT, as a real cloud would.

`config_snippet()` is the part of agent.toml that points a lane at all of it.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from simulators.cloud.broker import MosquittoBroker, mosquitto_path
from simulators.cloud.catalog_data import SnapshotSpec
from simulators.cloud.catalog_server import CatalogServer
from simulators.cloud.payment_service import PaymentService
from simulators.cloud.store_catalog import records
from simulators.cloud.tokens import TokenIssuer

CLOUD_TOKEN = "fake-cloud-token"
PAYMENT_KEY_ID, PAYMENT_SECRET = "key-1", b"fake-cloud-payment-secret"


@dataclass
class FakeCloud:
    workdir: Path
    store_id: str
    lane_id: str
    broker: MosquittoBroker | None
    catalog: CatalogServer
    issuer: TokenIssuer
    payments: PaymentService
    key_file: Path
    catalog_token_file: Path
    payment_secret_file: Path
    ingest_db: Path

    def config_snippet(self) -> str:
        """The agent.toml sections that point a lane at this cloud."""
        mqtt = (f'[mqtt]\nhost = "127.0.0.1"\nport = {self.broker.port}\ntls = false\n\n'
                if self.broker is not None else "# no mosquitto installed: the lane runs offline\n\n")
        return (f'{mqtt}[catalog]\nurl = "{self.catalog.url}"\ntoken_file = "{self.catalog_token_file}"\n\n'
                f'[trust]\nkeys = ["{self.key_file}"]\n\n'
                f'[payment]\nadapter = "paypay"\nbase_url = "{self.payments.url}"\nmerchant_id = "M-FAKE"\n'
                f'api_key_id = "{PAYMENT_KEY_ID}"\napi_secret_file = "{self.payment_secret_file}"\n')


class NotificationRelay:
    """Relays the payment service's notifications to the paying lane as `payment.notify` commands (QoS 1)."""

    def __init__(self, broker: MosquittoBroker, lanes: dict[str, tuple[str, str]], prefix: str = "omo/v1") -> None:
        self.lanes, self.prefix = lanes, prefix
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"cloud-relay-{uuid.uuid4().hex[:8]}",
                                  protocol=MQTTProtocolVersion.MQTTv5)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()

    def __call__(self, payment_id: str, status: str) -> None:
        store, lane = self.lanes.get(payment_id, (None, None))
        if store is None:
            return
        command = {"command_id": str(uuid.uuid4()), "command": "payment.notify",
                   "args": {"payment_id": payment_id, "status": status}}
        self.client.publish(f"{self.prefix}/{store}/{lane}/commands", json.dumps(command), qos=1)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@contextlib.contextmanager
def ingest_process(broker: MosquittoBroker, db: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The reference ingest as its own process, as the cloud would run it."""
    proc = subprocess.Popen([sys.executable, "-m", "simulators.cloud.ingest", "--port", str(broker.port),
                             "--db", str(db)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


def _secret(path: Path, value: bytes) -> Path:
    path.write_bytes(value)
    path.chmod(0o600)
    return path


@contextlib.asynccontextmanager
async def fake_cloud(workdir: Path, *, store_id: str = "store-001", lane_id: str = "lane-01",
                     catalog_lines: Sequence[dict[str, Any]] | None = None,
                     broker: bool = True) -> AsyncIterator[FakeCloud]:
    """Start every part of the cloud; without mosquitto (or with `broker=False`) the lane runs offline."""
    workdir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, at start-up
    issuer = TokenIssuer(kid="cloud-fake")
    key_file = issuer.write_public_key(workdir)
    catalog = CatalogServer(SnapshotSpec(products=0, extra=tuple(catalog_lines or records()), version=1),
                            token=CLOUD_TOKEN)
    await catalog.start()
    payments = PaymentService(secrets={PAYMENT_KEY_ID: PAYMENT_SECRET})
    await payments.start()
    mqtt = MosquittoBroker(workdir / "broker", lanes=((store_id, lane_id),)) if broker and mosquitto_path() else None
    with contextlib.ExitStack() as stack:
        if mqtt is not None:
            mqtt.start()
            stack.callback(mqtt.stop)
            stack.enter_context(ingest_process(mqtt, workdir / "ingest.db"))
            relay = NotificationRelay(mqtt, payments.lanes)
            stack.callback(relay.close)
            payments.on_notify = relay
        try:
            yield FakeCloud(workdir, store_id, lane_id, mqtt, catalog, issuer, payments, key_file,
                            _secret(workdir / "cloud.token", CLOUD_TOKEN.encode()),
                            _secret(workdir / "payment.secret", PAYMENT_SECRET), workdir / "ingest.db")
        finally:
            await payments.stop()
            await catalog.stop()
