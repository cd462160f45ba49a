"""The receipt's routes on a real HTTP server on 127.0.0.1, against the printer simulator through the real
`escpos_serial` driver: the shopper's choice and a staff reprint, each response validated against
docs/openapi.yaml."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from agent.api.events import EventHub
from agent.api.receipt_routes import ReceiptRoutes
from agent.api.server import ApiServer
from agent.api.session_routes import SessionRoutes
from agent.api.settings import ApiSection
from agent.health import HealthRegistry
from agent.receipts.printing import ReceiptPrinting
from agent.receipts.settings import ReceiptsSection
from agent.supervise import Backoff, Supervisor
from simulators.cloud.store_catalog import TEA
from simulators.devices.printer import VirtualSerialPrinter
from simulators.doubles.ports import free_port
from simulators.fixtures.session import SessionLane
from tests.api.test_session_api import Client


@pytest.fixture
async def receipts_api(session_lane: SessionLane, printer_sim: VirtualSerialPrinter,
                       tmp_path: Path) -> AsyncIterator[tuple[Client, ReceiptPrinting]]:
    assert session_lane.controller is not None and session_lane.pipeline is not None
    key = tmp_path / "receipt-key"
    key.write_bytes(b"k" * 32)
    key.chmod(0o600)
    registry = HealthRegistry("t")
    section = ReceiptsSection(printer={"driver": "escpos_serial", "profile": "tm-t20-58", **printer_sim.options},
                              default="none", link_template="https://r.example.com/{receipt_id}", key_file=key)
    printing = ReceiptPrinting(section, lane_id="lane-7", lane_db=session_lane.lane_db,
                               health=registry.component("printer"), notify=EventHub().publish)
    supervisor = Supervisor(registry, backoff=Backoff(initial_s=0.1, max_s=0.2))
    supervisor.start("printer", printing.run)
    port = free_port()
    server = ApiServer(ApiSection(listen=f"127.0.0.1:{port}"), registry, EventHub())
    routes = SessionRoutes(session_lane.controller, session_lane.pipeline, session_lane.checkout)
    routes.add_to(server.app)
    ReceiptRoutes(printing, staff=routes.staff_code).add_to(server.app)
    await server.start()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            yield Client(f"http://127.0.0.1:{port}", http), printing
    finally:
        await server.stop()
        await supervisor.stop_all()


async def paid(lane: SessionLane) -> dict[str, Any]:
    await lane.scan(TEA)
    await lane.checkout.pay("simulated")
    [sale] = lane.events("omo.sale/1")
    return sale


async def test_the_shopper_chooses_paper_after_paying_and_it_prints(
        receipts_api: tuple[Client, ReceiptPrinting], session_lane: SessionLane,
        printer_sim: VirtualSerialPrinter) -> None:
    api, printing = receipts_api
    status, body = await api.call("POST", "/v1/session/receipt", body={"choice": "paper"})
    assert status == 409 and "paid screen" in body["detail"], "no sale yet"
    sale = await paid(session_lane)
    printing.sale_recorded(sale)
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*printing.tasks)
    assert printer_sim.receipts == [], "the lane's default here is no receipt"
    status, body = await api.call("POST", "/v1/session/receipt", body={"choice": "paper"})
    assert status == 200 and (body["choice"], body["status"]) == ("paper", "printing")
    [receipt] = await printer_sim.until_receipts(1)
    assert receipt.barcodes == [("code128", sale["sale_id"])]
    status, body = await api.call("POST", "/v1/session/receipt", body={"choice": "app"})
    assert status == 200 and body["status"] == "shown" and body["link"] == printing.link(sale["sale_id"])
    status, body = await api.call("POST", "/v1/session/receipt", body={"choice": "fax"})
    assert status == 400


async def test_staff_reprint_a_sale_by_its_id_with_their_token(
        receipts_api: tuple[Client, ReceiptPrinting], session_lane: SessionLane,
        printer_sim: VirtualSerialPrinter) -> None:
    api, _ = receipts_api
    sale = await paid(session_lane)
    path, template = f"/v1/sales/{sale['sale_id']}/reprint", "/v1/sales/{sale_id}/reprint"
    status, _ = await api.call("POST", path, template, body={})
    assert status == 403 and printer_sim.receipts == [], "no staff token, nothing printed"
    token = session_lane.issuer.staff("S-7")
    status, body = await api.call("POST", "/v1/sales/NOSUCHSALE/reprint", template, body={"token": token})
    assert status == 404
    status, body = await api.call("POST", path, template, body={"token": token})
    assert status == 200 and body == {"sale_id": sale["sale_id"], "outcome": "printed", "staff_id": "S-7"}
    [receipt] = printer_sim.receipts
    assert "** REPRINT **" in receipt.text_lines or "** 再発行 **" in receipt.text_lines
    printer_sim.set_fault(cover_open=True)
    status, body = await api.call("POST", path, template, body={"token": token})
    assert status == 409 and body["outcome"] == "cover_open"
