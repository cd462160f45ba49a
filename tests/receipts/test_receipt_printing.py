"""The lane's printing flow against the ESC/POS simulator on a pty through the real `escpos_serial` driver: the
sale is recorded before printing and never held by it; paper out mid-receipt offers the e-receipt and shows in
the lane's health and the attendant's status; a staff reprint after a new roll prints the whole receipt;
near-end raises the call before the receipt that would run out; the member's e-receipt event validates."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from agent.attendant.settings import AttendantSection
from agent.attendant.status import content
from agent.health import HealthRegistry, State
from agent.receipts.layout import receipt_job
from agent.receipts.links import verify
from agent.receipts.printing import ReceiptPrinting
from agent.receipts.settings import ReceiptsSection
from agent.supervise import Backoff, Supervisor
from drivers.printers import PROFILES
from simulators.cloud.store_catalog import BATTERIES, MEMBER, TEA
from simulators.devices.printer import VirtualSerialPrinter, parse_bytes
from simulators.fixtures.session import SessionLane

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = "https://r.example.com/{receipt_id}"
KEY = b"0123456789abcdef0123456789abcdef"


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "receipt-key"
    path.write_bytes(KEY + b"\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def order() -> list[str]:
    """What happened, in order: the printer's health changes and each receipt the simulator cut."""
    return []


@pytest.fixture
def printer(order: list[str]) -> Iterator[VirtualSerialPrinter]:
    sim = VirtualSerialPrinter(on_receipt=lambda receipt, png: order.append("receipt"))
    yield sim
    sim.close()


class Desk:
    """ReceiptPrinting as the lane runs it: its health in the lane's registry, the screen's messages kept."""

    def __init__(self, lane: SessionLane, sim: VirtualSerialPrinter, key_file: Path, order: list[str],
                 **settings: Any) -> None:
        self.registry = HealthRegistry("test", "store-1", "lane-7")
        self.health = self.registry.component("printer")
        self.registry.listeners.append(lambda r: order.append(f"health {self.health.state} {self.health.reason}"))
        self.screen: list[dict[str, Any]] = []
        self.section = ReceiptsSection(printer={"driver": "escpos_serial", "profile": "tm-t20", **sim.options},
                                       link_template=TEMPLATE, key_file=key_file, poll_s=settings.pop("poll_s", 0.5),
                                       **settings)
        self.printing = ReceiptPrinting(self.section, lane_id="lane-7", lane_db=lane.lane_db, health=self.health,
                                        notify=self.screen.append, language=lambda: "ja")

    def receipt_messages(self) -> list[dict[str, Any]]:
        return [m for m in self.screen if m.get("type") == "receipt"]

    async def message(self, status: str) -> dict[str, Any]:
        async with asyncio.timeout(5):
            while not any(m["status"] == status for m in self.receipt_messages()):   # noqa: ASYNC110
                await asyncio.sleep(0.01)
        return next(m for m in self.receipt_messages() if m["status"] == status)


@contextlib.asynccontextmanager
async def running(desk: Desk) -> AsyncIterator[None]:
    """The printer's task under the lane's supervisor, which opens the printer again when it is lost."""
    supervisor = Supervisor(desk.registry, backoff=Backoff(initial_s=0.1, max_s=0.2))
    supervisor.start("printer", desk.printing.run)
    try:
        async with asyncio.timeout(5):
            while desk.health.state is State.STARTING:      # noqa: ASYNC110 - the first status read
                await asyncio.sleep(0.01)
        yield
    finally:
        await supervisor.stop_all()


async def paid_sale(lane: SessionLane, *, member: bool = False) -> dict[str, Any]:
    if member:
        await lane.scan(lane.issuer.member(MEMBER), "qr")
    await lane.scan(TEA)
    await lane.scan(BATTERIES)
    await lane.checkout.pay("simulated")
    [sale] = lane.events("omo.sale/1")
    return sale


def sales_recorded(lane: SessionLane, sale_id: str) -> int:
    return int(lane.lane_db.reader().execute("SELECT count(*) FROM sales WHERE sale_id = ?", (sale_id,)).fetchone()[0])


async def test_paper_out_mid_receipt_offers_the_e_receipt_and_a_reprint_after_a_new_roll_is_whole(
        session_lane: SessionLane, printer: VirtualSerialPrinter, key_file: Path, order: list[str]) -> None:
    desk = Desk(session_lane, printer, key_file, order)
    printer.set_fault(paper_out_after=6)             # the roll ends six lines into the receipt
    async with running(desk):
        sale = await paid_sale(session_lane)
        desk.printing.sale_recorded(sale)
        failed = await desk.message("failed")
        assert failed["reason"] == "paper_out" and failed["sale_id"] == sale["sale_id"]
        assert failed["link"] is not None and verify(failed["link"].rsplit("/", 1)[1], KEY) \
            == sale["sale_id"], "the screen offers the e-receipt with a signed link"
        assert sales_recorded(session_lane, sale["sale_id"]) == 1 and len(session_lane.events("omo.sale/1")) == 1
        assert session_lane.view["state"] == "paid", "the sale is not held by the printer"
        assert (desk.health.state, desk.health.reason) == (State.DOWN, "paper_out")
        status = content(store_id="store-1", lane_id="lane-7", currency="JPY", heartbeat_s=30,
                         view=session_lane.view, session=session_lane.controller.session,
                         devices=desk.registry.states(), uplink=True, last_scan=None, section=AttendantSection(),
                         light=False)
        assert status["devices"]["printer"] == {"state": "down", "reason": "paper_out"}
        assert [c["reason"] for c in status["interventions"]] == ["printer_paper_out"], "staff are called"
        assert printer.receipts == [], "nothing was cut: the receipt stopped with the paper"

        printer.load_paper()
        async with asyncio.timeout(20):
            assert await desk.printing.reprint(sale["sale_id"]) == "printed"
        [reprinted] = await printer.until_receipts(1)
        assert desk.health.state is State.OK, "a new roll: the printer is well again"
    expected = parse_bytes(receipt_job({**sale["receipt"], "lane": "lane-7", "currency": "JPY"}, PROFILES["tm-t20"],
                                       "ja", desk.printing.link(sale["sale_id"]), copy=True))[0]
    assert reprinted.text_lines == expected.text_lines and "** 再発行 **" in reprinted.text_lines
    assert reprinted.barcodes == [("code128", sale["sale_id"])]
    assert reprinted.qr_payloads == [desk.printing.link(sale["sale_id"])]
    assert sales_recorded(session_lane, sale["sale_id"]) == 1


async def test_near_end_raises_the_call_before_the_receipt_that_would_run_out(
        session_lane: SessionLane, printer: VirtualSerialPrinter, key_file: Path, order: list[str]) -> None:
    desk = Desk(session_lane, printer, key_file, order, poll_s=600)   # no idle poll: the check before the job
    async with running(desk):
        assert desk.health.state is State.OK
        printer.set_fault(near_end=True)
        sale = await paid_sale(session_lane)
        desk.printing.sale_recorded(sale)
        await desk.message("printed")
        [receipt] = await printer.until_receipts(1)
        assert (desk.health.state, desk.health.reason) == (State.DEGRADED, "printer_near_end")
        status = content(store_id="store-1", lane_id="lane-7", currency="JPY", heartbeat_s=30, view=session_lane.view,
                         session=session_lane.controller.session, devices=desk.registry.states(), uplink=True,
                         last_scan=None, section=AttendantSection(), light=True)
        [call] = status["interventions"]
        assert (call["reason"], call["remote_allowed"]) == ("printer_near_end", False)
        assert status["light"] == "yellow_flashing"
    assert "receipt" in order and "health degraded printer_near_end" in order
    assert order.index("health degraded printer_near_end") < order.index("receipt")
    assert receipt.barcodes == [("code128", sale["sale_id"])]


async def test_a_member_who_chose_the_app_gets_a_receipt_event_that_validates(
        session_lane: SessionLane, printer: VirtualSerialPrinter, key_file: Path, order: list[str]) -> None:
    desk = Desk(session_lane, printer, key_file, order, default="app")
    sale = await paid_sale(session_lane, member=True)
    desk.printing.sale_recorded(sale)
    sent = await desk.message("sent")
    assert sent["choice"] == "app"
    async with asyncio.timeout(5):
        while not session_lane.events("omo.receipt/1"):       # noqa: ASYNC110
            await asyncio.sleep(0.01)
    [event] = session_lane.events("omo.receipt/1")
    api = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())
    schema = {"$ref": "#/components/schemas/ReceiptEvent", "components": api["components"]}
    jsonschema.Draft202012Validator(schema).validate(event)
    assert event["member_id"] == MEMBER and event["receipt"]["sale_id"] == sale["sale_id"]
    assert verify(event["receipt_id"], KEY) == sale["sale_id"]
    assert printer.receipts == [], "the app, not paper"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate({**event, "receipt": {"items": []}})


async def test_a_shopper_without_membership_who_picks_the_app_is_shown_the_link(
        session_lane: SessionLane, printer: VirtualSerialPrinter, key_file: Path, order: list[str]) -> None:
    desk = Desk(session_lane, printer, key_file, order, default="none")
    sale = await paid_sale(session_lane)
    desk.printing.sale_recorded(sale)
    assert (await desk.message("none"))["choice"] == "none"
    shown = await desk.printing.choose("app")
    assert shown["status"] == "shown" and shown["link"] == desk.printing.link(sale["sale_id"])
    assert session_lane.events("omo.receipt/1") == [], "no member, no app event"


async def test_a_lane_without_a_printer_offers_no_paper_unless_asked_and_then_the_e_receipt(
        session_lane: SessionLane, key_file: Path) -> None:
    screen: list[dict[str, Any]] = []
    printing = ReceiptPrinting(ReceiptsSection(link_template=TEMPLATE, key_file=key_file), lane_id="lane-7",
                               lane_db=session_lane.lane_db, health=None, notify=screen.append)
    sale = await paid_sale(session_lane)
    printing.sale_recorded(sale)
    await asyncio.gather(*printing.tasks)
    assert [(m["choice"], m["status"]) for m in screen] == [("none", "none")]
    asked = await printing.choose("paper")
    assert (asked["status"], asked["reason"]) == ("failed", "no_printer")
    assert asked["link"] == printing.link(sale["sale_id"]), "the e-receipt instead"
    assert await printing.reprint(sale["sale_id"]) == "no_printer"
