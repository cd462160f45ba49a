"""Everything around the agent in `omo-edge demo`: a pty scanner, mosquitto, the reference ingest, the fake
catalog server and the cloud's token issuer, each the same simulator the tests use.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.interpret.gtin import check_digit
from simulators.cloud.broker import MosquittoBroker, mosquitto_path
from simulators.cloud.catalog_data import SnapshotSpec
from simulators.cloud.catalog_server import CatalogServer
from simulators.cloud.tokens import TokenIssuer
from simulators.devices.serial_pty import VirtualSerialScanner
from simulators.ports import free_port

STORE, LANE = "store-demo", "lane-01"
CLOUD_TOKEN = "demo-cloud-token"


def ean(body: str) -> str:
    return body + str(check_digit(body))


TEA, CHOCOLATE, BEER, UNKNOWN = ean("490123456789"), ean("4901234"), ean("490123450001"), ean("490999999999")
YOGHURT = ean("490123400005")
MEAT_LOOKUP = "0" + ean("021234500000")         # a jp NON-PLU label: item 12345, price zeroed
MEAT_LABEL = ean("021234500498")                 # the same item priced 498 by the store's scale

CATALOG_LINES: tuple[dict[str, Any], ...] = (
    {"gtin": "0" + TEA, "name": "Green tea 500 ml", "price": 198, "member_price": 178, "tax_rate": "0.08"},
    {"gtin": "000000" + CHOCOLATE, "name": "Milk chocolate", "price": 120, "tax_rate": "0.08"},
    {"gtin": "0" + YOGHURT, "name": "Plain yoghurt 400 g", "price": 158, "tax_rate": "0.08"},
    {"gtin": "0" + BEER, "name": "Craft beer 350 ml", "price": 328, "tax_rate": "0.10", "age_restricted": True},
    {"gtin": MEAT_LOOKUP, "name": "Pork loin (weighed in store)", "price": 0, "tax_rate": "0.08", "unit": "kg"},
    {"kind": "member", "id": "M-0001", "tier": "gold", "status": "active", "points": 1200,
     "consent_interest": True},
    {"kind": "coupon", "id": "C-TEA20", "amount": 20, "conditions": {"gtins": ["0" + TEA]}},
)


@dataclass
class Step:
    """One thing the shopper does: what it is, and the code the scanner sends."""

    what: str
    code: str
    aim: str


def shopper_steps(issuer: TokenIssuer, today: dt.date) -> list[Step]:
    yesterday = (today - dt.timedelta(days=1)).strftime("%y%m%d")
    coupon = issuer.coupon("C-TEA20", "M-0001")
    staff = issuer.staff("S-0042")
    expired = f"01{'0' + YOGHURT}17{yesterday}10LOT42"
    return [
        Step("shopper shows the member QR in the app", issuer.member("M-0001"), "]Q1"),
        Step("shopper scans a green tea", TEA, "]E0"),
        Step("shopper scans a second green tea", TEA, "]E0"),
        Step("shopper scans a chocolate bar (EAN-8)", CHOCOLATE, "]E4"),
        Step("shopper scans pork loin priced by the store's scale", MEAT_LABEL, "]E0"),
        Step("shopper scans a craft beer (age-restricted)", BEER, "]E0"),
        Step("staff check the shopper's age and scan their staff code", staff, "]Q1"),
        Step("shopper scans yoghurt past its expiry date (GS1 DataBar)", expired, "]e0"),
        Step("staff look at the yoghurt and approve it", staff, "]Q1"),
        Step("shopper scans a label with a misprinted check digit", TEA[:-1] + str((int(TEA[-1]) + 1) % 10), "]E0"),
        Step("shopper scans an item the store does not carry", UNKNOWN, "]E0"),
        Step("staff take the unknown item away", staff, "]Q1"),
        Step("shopper shows an app coupon for green tea", coupon, "]Q1"),
        Step("shopper shows the same coupon again (already in the basket)", coupon, "]Q1"),
        Step("shopper presents a wallet payment code: the basket is paid", "281234567890123456", "]Q1"),
    ]


@dataclass
class DemoWorld:
    workdir: Path
    scanner: VirtualSerialScanner
    broker: MosquittoBroker | None
    catalog: CatalogServer
    issuer: TokenIssuer
    ingest_db: Path
    config_path: Path


def write_config(world_dir: Path, scanner: str, broker: MosquittoBroker | None, catalog_url: str,
                 key_file: Path) -> Path:
    token = world_dir / "cloud.token"
    token.write_text(CLOUD_TOKEN)
    token.chmod(0o600)
    mqtt = (f'\n[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\nconfirm_timeout_s = 5\n' if broker else "")
    path = world_dir / "agent.toml"
    path.write_text(f"""[agent]
store_id = "{STORE}"
lane_id = "{LANE}"
state_dir = "{world_dir / 'state'}"
log_level = "warning"
{mqtt}
[api]
listen = "127.0.0.1:{free_port()}"

[catalog]
url = "{catalog_url}"
token_file = "{token}"

[trust]
keys = ["{key_file}"]

[[devices]]
name = "handheld"
driver = "serial"
port = "{scanner}"
""")
    return path


@contextlib.contextmanager
def ingest_process(broker: MosquittoBroker, db: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The reference ingest as its own process, as the cloud would run it."""
    proc = subprocess.Popen([sys.executable, "-m", "simulators.cloud.ingest", "--port", str(broker.port),
                             "--db", str(db)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.asynccontextmanager
async def demo_world(workdir: Path) -> AsyncIterator[DemoWorld]:
    """Start every simulator; without mosquitto the lane runs offline and says so."""
    issuer = TokenIssuer(kid="cloud-demo")
    key_file = issuer.write_public_key(workdir)
    catalog = CatalogServer(SnapshotSpec(products=0, extra=CATALOG_LINES, version=1), token=CLOUD_TOKEN)
    catalog_url = await catalog.start()
    broker = MosquittoBroker(workdir / "broker", lanes=((STORE, LANE),)) if mosquitto_path() else None
    with contextlib.ExitStack() as stack:
        scanner = VirtualSerialScanner("handheld")
        stack.callback(scanner.close)
        if broker is not None:
            broker.start()
            stack.callback(broker.stop)
            stack.enter_context(ingest_process(broker, workdir / "ingest.db"))
        try:
            yield DemoWorld(workdir=workdir, scanner=scanner, broker=broker, catalog=catalog, issuer=issuer,
                            ingest_db=workdir / "ingest.db",
                            config_path=write_config(workdir, scanner.path, broker, catalog_url, key_file))
        finally:
            await catalog.stop()
