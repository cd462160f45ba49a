"""Payment confirmed to the last byte of the receipt accepted by the printer, through the lane's own printing flow.

    .venv/bin/python bench/receipt.py [--sales 5]

A lane (the real session, pricing and lane.db on a temporary directory) sells a basket with the simulated
payment; the moment `pay` returns confirmed, the sale goes to `ReceiptPrinting.sale_recorded` as the lane wires
it, which lays the receipt out (agent/receipts/layout.py) and sends it through the real `escpos_serial` driver to
the ESC/POS simulator on a pty. The clock stops when the simulator has parsed the job's last byte and cut the
paper. Measured at USB speed (the pty unpaced) and at 9600 baud (the simulator reads 10 bits a byte), for an
80 mm printer that draws the QR itself (tm-t20). Beside it, in the same run, the same receipt's bytes laid out
with the QR as a raster image and sent through the same driver at each speed (what a printer without `GS ( k`
costs), and the bare wire time of the native job's bytes at 9600 baud as the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.health import HealthRegistry  # noqa: E402
from agent.receipts.layout import receipt_job  # noqa: E402
from agent.receipts.printing import ReceiptPrinting  # noqa: E402
from agent.receipts.settings import ReceiptsSection  # noqa: E402
from agent.supervise import Backoff, Supervisor  # noqa: E402
from drivers.printers import PROFILES, open_printer  # noqa: E402
from simulators.cloud.store_catalog import BATTERIES, ONIGIRI, TEA  # noqa: E402
from simulators.cloud.tokens import TokenIssuer  # noqa: E402
from simulators.devices.printer import VirtualSerialPrinter  # noqa: E402
from simulators.fixtures.session import SessionLane, store_state  # noqa: E402

TEMPLATE = "https://r.example.com/{receipt_id}"


async def lane_receipts(work: Path, baud: int, sales: int) -> tuple[list[float], dict[str, Any]]:
    """Seconds from each payment confirmed to its receipt cut, and the last sale (for the raw-job comparison)."""
    cut: asyncio.Queue[float] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    sim = VirtualSerialPrinter(baud=baud, on_receipt=lambda receipt, png: loop.call_soon_threadsafe(
        cut.put_nowait, time.perf_counter()))
    key = work / "receipt-key"
    key.write_bytes(b"0123456789abcdef0123456789abcdef\n")
    key.chmod(0o600)
    (work / f"lane-{baud}").mkdir()
    state = store_state(work / f"lane-{baud}")
    issuer = TokenIssuer()
    (work / f"lane-{baud}" / "keys").mkdir()
    issuer.write_public_key(work / f"lane-{baud}" / "keys")
    lane = SessionLane(state, issuer)
    await lane.open()
    registry = HealthRegistry("bench", "store-001", "lane-01")
    printing = ReceiptPrinting(ReceiptsSection(printer={"driver": "escpos_serial", "profile": "tm-t20", **sim.options},
                                               link_template=TEMPLATE, key_file=key, poll_s=5.0),
                               lane_id="lane-01", lane_db=lane.lane_db, health=registry.component("printer"),
                               notify=lambda message: None, language=lambda: "ja")
    supervisor = Supervisor(registry, backoff=Backoff(initial_s=0.1, max_s=0.5))
    supervisor.start("printer", printing.run)
    times: list[float] = []
    sale: dict[str, Any] = {}
    try:
        await asyncio.sleep(0.5)                             # the printer opened and its first status read
        for n in range(sales):
            for code in (TEA, BATTERIES, ONIGIRI, TEA):
                await lane.scan(code)
            paid = await lane.checkout.pay("simulated")
            confirmed = time.perf_counter()
            assert paid.ok, paid
            sale = lane.events("omo.sale/1")[-1]
            printing.sale_recorded(sale)
            times.append(await asyncio.wait_for(cut.get(), 60) - confirmed)
            assert len(lane.events("omo.sale/1")) == n + 1
    finally:
        await supervisor.stop_all()
        await lane.stop()
        sim.close()
    return times, sale


async def raw_job(job: bytes, baud: int) -> float:
    """Seconds from `send()` to the simulator cutting the paper, for one job through the same driver."""
    cut: asyncio.Queue[float] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    sim = VirtualSerialPrinter(baud=baud, on_receipt=lambda receipt, png: loop.call_soon_threadsafe(
        cut.put_nowait, time.perf_counter()))
    try:
        async with open_printer("escpos_serial", {"profile": "tm-t20", **sim.options}) as printer:
            await printer.status()
            started = time.perf_counter()
            await printer.send(job)
            return await asyncio.wait_for(cut.get(), 120) - started
    finally:
        sim.close()


async def main_async(sales: int) -> None:
    with tempfile.TemporaryDirectory(prefix="omo-bench-receipt-") as tmp:
        work = Path(tmp)
        for label, baud in (("USB speed (pty, unpaced)", 0), ("9600 baud", 9600)):
            times, sale = await lane_receipts(work, baud, sales)
            receipt = {**sale["receipt"], "lane": "lane-01", "currency": "JPY"}
            link = "https://r.example.com/" + "X" * 26
            native = receipt_job(receipt, PROFILES["tm-t20"], "ja", link)
            image = receipt_job(receipt, PROFILES["tm-t20"], "ja", link, native_qr=False)
            image_s = await raw_job(image, baud)
            wire = len(native) * 10 / baud if baud else 0.0
            print(f"{label}: payment confirmed -> receipt's last byte accepted, native QR, {len(times)} sales: "
                  f"median {statistics.median(times):.3f} s, max {max(times):.3f} s"
                  + (f" (target < 2 s); the job's {len(native):,} bytes on the wire alone {wire:.3f} s, "
                     f"ratio {statistics.median(times) / wire:.2f}" if baud else f"; job {len(native):,} bytes"))
            print(f"  the same receipt with the QR as an image: {len(image):,} bytes, send -> cut {image_s:.3f} s "
                  f"({len(image) / len(native):.1f}x the bytes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sales", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main_async(args.sales))


if __name__ == "__main__":
    main()
