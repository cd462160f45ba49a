"""Receipt printers: the loader and its option errors, profiles, Kanji bytes, the status of each fault, a paper end
in the middle of a job, jobs over a pty and over TCP, and unplugging.

The drivers run unchanged against the ESC/POS simulator (simulators/devices/printer.py), which parses the bytes
with its own tables: what a test reads back is what a printer would have printed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from escpos.printer import Dummy
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers import printers
from drivers.base import DeviceUnavailable, DriverOptionError, UnavailableReason
from drivers.escpos_text import kanji_bytes
from drivers.printer_escpos import NetworkPrinter, SerialPrinter, UsbPrinter
from drivers.printers import PROFILES, PrinterProfile, PrintFailed, from_asb, open_printer
from simulators.devices.printer import VirtualNetworkPrinter, VirtualSerialPrinter, parse_bytes, render_png
from simulators.devices.printer_parse import EscPosMachine, code128_text

ITEM = "おにぎり 鮭 ※"          # an item name with the reduced-rate mark
KANJI_PROFILES = [p for p in PROFILES.values() if p.kanji != "codepage"]


def job(profile: PrinterProfile, lines: list[str], *, qr: str | None = None, barcode: str | None = None) -> bytes:
    """A receipt as the layout builds one: python-escpos for commands, kanji_bytes for Japanese."""
    d = Dummy(profile=profile.escpos_profile)
    for line in lines:
        d._raw(kanji_bytes(line, profile) + b"\n")
    if barcode:
        d.barcode("{B" + barcode, "CODE128", function_type="B")
    if qr:
        d.qr(qr, native=True)
    d.cut()
    return bytes(d.output)


def test_built_in_printers_are_found_without_reading_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_metadata(**_: object) -> list[object]:
        raise AssertionError("entry points were read for a built-in printer")

    monkeypatch.setattr(printers, "entry_points", no_metadata)
    assert printers.load("escpos_serial") is SerialPrinter
    assert printers.load("escpos_network") is NetworkPrinter and printers.load("escpos_usb") is UsbPrinter


def test_an_unknown_printer_names_those_there_are() -> None:
    with pytest.raises(printers.UnknownPrinter, match=r"no printer driver named 'lp'\. Fix: use one of .*escpos_usb"):
        open_printer("lp", {})


@pytest.mark.parametrize(("driver", "options", "key"), [
    ("escpos_serial", {"port": "/dev/x", "profile": "tm-u220"}, "profile"),
    ("escpos_usb", {"vendor_id": "epson", "product_id": "0e15"}, "vendor_id"),
    ("escpos_network", {"host": "10.0.0.9", "port": 70_000}, "port"),
    ("escpos_network", {"host": "10.0.0.9", "baud": 9600}, "baud"),
])
def test_a_bad_option_names_its_key_and_the_fix(driver: str, options: dict[str, object], key: str) -> None:
    with pytest.raises(DriverOptionError, match="Fix: ") as refused:
        open_printer(driver, options)
    assert refused.value.key == key


def test_every_profile_has_a_paper_width_a_kanji_method_and_a_python_escpos_profile_that_exists() -> None:
    from escpos.capabilities import CAPABILITIES

    assert {"tm-t88", "tm-t20", "tm-t20-58"} <= set(PROFILES)
    assert any(name.startswith(("star", "citizen")) for name in PROFILES)
    for profile in PROFILES.values():
        assert profile.paper_mm in (58, 80) and profile.kanji in ("fs_shift_jis", "fs_jis", "codepage")
        assert profile.columns == (32 if profile.paper_mm == 58 else profile.columns) and profile.columns >= 32
        assert profile.escpos_profile in CAPABILITIES["profiles"]


def test_kanji_mode_bytes_are_shift_jis_between_fs_and_and_fs_dot() -> None:
    data = kanji_bytes("鮭 150", PROFILES["tm-t88"])
    assert data == b"\x1cC\x01" + b"\x1c&" + "鮭".encode("cp932") + b"\x1c." + b" 150"


@pytest.mark.parametrize("profile", KANJI_PROFILES, ids=lambda p: p.name)
def test_a_japanese_item_name_round_trips_through_the_simulator(profile: PrinterProfile) -> None:
    receipt = parse_bytes(job(profile, [ITEM, "ｶﾞﾑ 2x 110", "Total 330"]))[0]
    assert receipt.text_lines == [ITEM, "ガム 2x 110", "Total 330"]    # half-width katakana printed full width
    assert receipt.cut


def test_a_printer_without_kanji_mode_prints_katakana_from_the_code_page_and_marks_what_it_cannot() -> None:
    receipt = parse_bytes(job(PROFILES["generic-58"], ["ガム 鮭"]))[0]
    assert receipt.text_lines == ["ｶﾞﾑ ?"]


def test_code_128_code_sets_read_back_as_their_text() -> None:
    assert code128_text(b"{BS-{C" + bytes((12, 34, 5))) == "S-123405"
    assert code128_text(b"{A{{X{1") == "{X\x1d"


def test_the_simulator_reads_text_barcode_qr_and_draws_a_png(tmp_path: Path) -> None:
    profile = PROFILES["tm-t20-58"]
    receipt = parse_bytes(job(profile, [ITEM], qr="https://r.example.com/r/abc", barcode="S-0001"))[0]
    assert receipt.barcodes == [("code128", "S-0001")] and receipt.qr_payloads == ["https://r.example.com/r/abc"]
    png = render_png(receipt, tmp_path / "r.png", profile.paper_mm)
    from PIL import Image

    with Image.open(png) as image:
        assert image.width == 384 and image.height > 200


async def test_a_job_over_the_serial_line_prints_and_returns_the_status(printer_sim: VirtualSerialPrinter) -> None:
    async with open_printer("escpos_serial", printer_sim.options | {"profile": "tm-t88"}) as printer:
        status = await printer.send(job(printer.profile, [ITEM, "Total 330"], qr="https://r.example.com/r/1"))
    assert status.reason is None and status.online
    receipt = printer_sim.receipts[-1]
    assert receipt.text_lines == [ITEM, "Total 330"] and receipt.qr_payloads == ["https://r.example.com/r/1"]


async def test_a_job_over_tcp_prints(network_printer_sim: VirtualNetworkPrinter) -> None:
    async with open_printer("escpos_network", network_printer_sim.options) as printer:
        await printer.send(job(printer.profile, [ITEM], barcode="S-0042"))
    receipts = await network_printer_sim.until_receipts(1)
    assert receipts[0].text_lines == [ITEM] and receipts[0].barcodes == [("code128", "S-0042")]


@pytest.mark.parametrize(("knob", "reason", "flag"), [
    ({"near_end": True}, "near_end", "paper_near_end"),
    ({"cover_open": True}, "cover_open", "cover_open"),
    ({"offline": True}, "offline", None),
])
async def test_dle_eot_reports_each_fault(printer_sim: VirtualSerialPrinter, knob: dict[str, bool], reason: str,
                                          flag: str | None) -> None:
    async with open_printer("escpos_serial", printer_sim.options) as printer:
        assert (await printer.status()).reason is None
        printer_sim.set_fault(**knob)
        status = await printer.status()
    assert status.reason == reason
    assert getattr(status, flag) if flag else not status.online
    assert status.online == (reason == "near_end")     # near-end still prints; the others stop the printer


async def test_near_end_prints_the_job_and_says_so(printer_sim: VirtualSerialPrinter) -> None:
    printer_sim.set_fault(near_end=True)
    async with open_printer("escpos_serial", printer_sim.options) as printer:
        status = await printer.send(job(printer.profile, ["Total 330"]))
    assert status.paper_near_end and status.reason == "near_end" and not status.stops_printing
    assert printer_sim.receipts[-1].text_lines == ["Total 330"]


async def test_paper_out_mid_job_is_print_failed_with_the_status_and_a_reprint_after_a_new_roll_is_whole(
        printer_sim: VirtualSerialPrinter) -> None:
    lines = [f"line {i}" for i in range(12)]
    printer_sim.set_fault(paper_out_after=5)
    async with open_printer("escpos_serial", printer_sim.options) as printer:
        the_job = job(printer.profile, lines)
        with pytest.raises(PrintFailed, match=r"paper_out\)\. Fix: load a new roll") as failed:
            await printer.send(the_job)
        assert failed.value.status.paper_out and failed.value.status.reason == "paper_out"
        assert 0 < failed.value.sent_bytes <= len(the_job)
        assert printer_sim.receipts == []                      # nothing was cut: the receipt is not whole
        assert printer_sim.machine.current.text_lines == lines[:5]
        printer_sim.load_paper()
        assert (await printer.status()).reason is None
        await printer.send(the_job)
    assert [r.text_lines for r in printer_sim.receipts] == [lines]


async def test_a_cover_opened_between_jobs_fails_the_next_job(network_printer_sim: VirtualNetworkPrinter) -> None:
    async with open_printer("escpos_network", network_printer_sim.options) as printer:
        network_printer_sim.set_fault(cover_open=True)
        with pytest.raises(PrintFailed) as failed:
            await printer.send(job(printer.profile, ["Total 330"]))
    assert failed.value.status.cover_open and network_printer_sim.receipts == []


def test_automatic_status_back_is_sent_on_enable_and_on_each_change() -> None:
    machine = EscPosMachine()
    first = machine.feed(b"\x1da\x0e")
    assert len(first) == 4 and from_asb(first).reason is None
    block = machine.set_fault(cover_open=True)
    assert from_asb(block).cover_open and not from_asb(block).online
    assert machine.set_fault(cover_open=True) == b""                    # no change, nothing sent


async def test_an_unplugged_serial_printer_is_device_unavailable(printer_sim: VirtualSerialPrinter) -> None:
    async with open_printer("escpos_serial", printer_sim.options) as printer:
        printer_sim.unplug()
        with pytest.raises(DeviceUnavailable) as gone:
            await printer.send(job(printer.profile, ["Total 330"]))
    assert gone.value.reason in (UnavailableReason.UNPLUGGED, UnavailableReason.FAILED)
    assert "Fix: " in str(gone.value)


async def test_a_network_printer_switched_off_is_device_unavailable(network_printer_sim: VirtualNetworkPrinter) -> None:
    async with open_printer("escpos_network", network_printer_sim.options) as printer:
        network_printer_sim.unplug()
        with pytest.raises(DeviceUnavailable, match="went away"):
            for _ in range(3):             # the first write may still land in the socket's buffer
                await printer.send(job(printer.profile, ["Total 330"]))
                await asyncio.sleep(0.05)


async def test_a_missing_printer_cannot_be_opened_and_says_where(tmp_path: Path) -> None:
    with pytest.raises(DeviceUnavailable, match=r"cannot open .*Fix: check the cable") as missing:
        async with open_printer("escpos_serial", {"port": str(tmp_path / "nothing")}):
            pass
    assert missing.value.reason is UnavailableReason.NOT_FOUND


# Characters every Kanji method can print: ASCII, kana, common Kanji and the receipt's signs.
ALPHABET = "abcXYZ0189 .,:-()/%あいうえおがぱゃっアイウエオガパャッー漢字鮭茶乳麺税込合計※￥ｶﾞﾑｱｲｳ"


@settings(max_examples=60, deadline=None)
@given(text=st.text(alphabet=ALPHABET, max_size=30), profile=st.sampled_from(KANJI_PROFILES))
def test_any_line_of_printable_characters_round_trips_through_the_simulator(text: str,
                                                                            profile: PrinterProfile) -> None:
    from drivers.escpos_text import widen

    receipt = parse_bytes(kanji_bytes(text, profile) + b"\n\x1dV\x00")[0]
    assert receipt.text_lines == ([widen(text)] if text else [])


async def test_automatic_status_back_stops_a_long_job_where_the_paper_ran_out() -> None:
    """On a line slower than the driver writes, the ASB block of the paper end arrives while the job is still
    being sent: the driver stops there rather than pushing the rest of the job into a printer without paper."""
    sim = VirtualSerialPrinter(baud=115_200, paper_out_after=3)
    the_job = b"".join(f"line {i}\n".encode() for i in range(5000))
    try:
        async with open_printer("escpos_serial", {"port": sim.path, "baudrate": 115_200}) as printer:
            with pytest.raises(PrintFailed) as failed:
                await printer.send(the_job)
    finally:
        sim.close()
    assert failed.value.status.reason == "paper_out"
    assert failed.value.sent_bytes < len(the_job) // 2
