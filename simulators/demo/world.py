"""Everything around the agent in `omo-edge demo`: the fake cloud of `omo-edge simulate cloud` (mosquitto, the
ingest that confirms each event, the catalog server, the token issuer, the payment service), a serial scanner
on a real pty, an overhead camera showing the shopper's phone, a locker, and a network receipt printer that draws
each receipt to a PNG in `receipts_dir` (kept after the demo ends, so its paths can be opened). Each is the
simulator the tests use; the agent itself runs unchanged on the config written here.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulators.cloud.fake_cloud import FakeCloud, fake_cloud
from simulators.cloud.store_catalog import records
from simulators.devices.camera import VirtualCamera
from simulators.devices.printer import VirtualNetworkPrinter
from simulators.devices.serial_pty import VirtualSerialScanner
from simulators.doubles.ports import free_port

STORE, LANE = "store-demo", "lane-01"


def demo_catalog() -> list[dict[str, Any]]:
    """The store's catalog, with an offline policy that takes wallet codes while the uplink is down (this store's
    payment terminal reaches the wallet's service over its own line)."""
    lines = [line for line in records() if not (line.get("kind") == "policy" and line["key"] == "payment_kinds")]
    return [*lines, {"kind": "policy", "key": "payment_kinds", "value": ["card", "cash", "wallet_code"],
                     "version": 1}]


@dataclass
class DemoWorld:
    workdir: Path
    cloud: FakeCloud
    scanner: VirtualSerialScanner
    camera: VirtualCamera
    config_path: Path
    listen: str
    printer: VirtualNetworkPrinter
    receipts_dir: Path


def write_config(world_dir: Path, cloud: FakeCloud, scanner: VirtualSerialScanner, camera: VirtualCamera,
                 listen: str, printer: VirtualNetworkPrinter, screen_language: str = "ja") -> Path:
    path = world_dir / "agent.toml"
    key = world_dir / "receipt-key"
    key.write_bytes(b"demo receipt key: not a secret, the demo's own\n")
    key.chmod(0o600)
    path.write_text(f"""[agent]
store_id = "{STORE}"
lane_id = "{LANE}"
state_dir = "{world_dir / 'state'}"
log_level = "warning"
allow_simulators = true          # the camera and the locker below are simulators

[api]
listen = "{listen}"
screen_language = "{screen_language}"

{cloud.config_snippet()}timeout_s = 10
poll_interval_s = 1.0

[session]
registration_number = "T9234567890123"
issuer_name = "OMO Mart Demo Store"

[points]
unit = 100

[pickup]
locker = "simulated"

[receipts]
printer = {{ driver = "escpos_network", host = "127.0.0.1", port = {printer.port}, profile = "tm-t20" }}
link_template = "https://receipts.example.com/{{receipt_id}}"
key_file = "{key}"

[[devices]]
name = "handheld"
driver = "serial"
port = "{scanner.path}"

[[devices]]
name = "overhead"
driver = "sim+camera"
source = "{camera.source}"
""")
    return path


@contextlib.asynccontextmanager
async def demo_world(workdir: Path, screen_language: str = "ja") -> AsyncIterator[DemoWorld]:
    """Start every simulator; everything started is stopped on the way out, also on Ctrl-C. The screen speaks
    `screen_language` (`[api] screen_language` in the config written here) until the shopper switches."""
    async with fake_cloud(workdir / "cloud", store_id=STORE, lane_id=LANE, catalog_lines=demo_catalog()) as cloud:
        with contextlib.ExitStack() as stack:
            scanner = VirtualSerialScanner("handheld")
            stack.callback(scanner.close)
            camera = VirtualCamera(fps=30, size=(1280, 720))
            stack.callback(camera.close)
            listen = f"127.0.0.1:{free_port()}"
            receipts_dir = Path(tempfile.mkdtemp(prefix="omo-edge-demo-receipts-"))
            printer = VirtualNetworkPrinter(png_dir=receipts_dir, paper_mm=80)
            stack.callback(printer.close)
            config = write_config(workdir, cloud, scanner, camera, listen, printer, screen_language)
            yield DemoWorld(workdir, cloud, scanner, camera, config, listen, printer, receipts_dir)
