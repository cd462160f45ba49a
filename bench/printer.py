"""A receipt job's bytes, and its time to the last byte the printer accepted, at USB speed and at 9600 baud.

The job is a sample Japanese receipt for an 80 mm printer (tm-t20 profile): a header, 15 item lines in Kanji
mode (some with the reduced-rate mark), totals and tax per rate, the Code 128 of the sale ID and a QR linking
to the e-receipt, built as the layout builds one (python-escpos commands, `drivers.escpos_text.kanji_bytes`).
It is built twice in the same run: once with the printer drawing the QR and the barcode (`GS ( k`, `GS k`),
once with both sent as raster images (`GS v 0`) as a printer without them needs.

Each job goes through the real driver (`escpos_serial`: chunks, ASB, then `DLE EOT` status) to the simulator on
a pty, which parses every byte. "USB speed" is the pty unpaced; "9600 baud" paces the simulator's reading at 10
bits a byte, as a serial line delivers them. The time is from `send()` called to the last byte of the job
parsed by the simulator (`last byte`), and to `send()` returning with the printer's status (`with status`).

    .venv/bin/python bench/printer.py [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from escpos.printer import Dummy

from drivers.escpos_text import kanji_bytes
from drivers.printers import PROFILES, PrinterProfile, open_printer
from simulators.devices.printer import VirtualSerialPrinter, cell_width

ITEMS = [("おにぎり 鮭", 150, True), ("緑茶 500ml", 140, True), ("サンドイッチ たまご", 298, True),
         ("乾電池 単3 4本", 498, False), ("ガム ミント", 110, True), ("牛乳 1L", 238, True),
         ("ボールペン 黒", 120, False), ("カップ麺 しょうゆ", 198, True), ("バナナ", 168, True),
         ("ティッシュ 5箱", 398, False), ("ヨーグルト", 128, True), ("コーヒー 缶", 130, True),
         ("マスク 7枚", 350, False), ("パン クロワッサン", 160, True), ("チョコレート", 210, True)]
SALE_ID = "S-0042-20261208-0001"
LINK = "https://r.example.com/r/0042-20261208-0001.Kf3aP9xQ2mVb7Lr1"


def receipt_job(profile: PrinterProfile, native: bool) -> bytes:
    """The sample receipt; `native` False sends the QR and the barcode as images."""
    d = Dummy(profile=profile.escpos_profile)
    d.set(align="center", bold=True, double_height=True)
    d._raw(kanji_bytes("オモ マート 渋谷店", profile) + b"\n")
    d.set(align="center", bold=False, normal_textsize=True)
    d._raw(kanji_bytes("登録番号 T1234567890123", profile) + b"\n")
    d.textln("2026-12-08 10:15  lane-03  " + SALE_ID[-4:])
    d.set(align="left")
    width = profile.columns
    for name, price, reduced in ITEMS:
        shown = name + (" ※" if reduced else "")
        amount = f"{price:>6,}".encode()
        pad = width - sum(cell_width(ch) for ch in shown) // 12 - len(amount)
        d._raw(kanji_bytes(shown, profile) + b" " * max(pad, 1) + amount + b"\n")
    total = sum(price for _, price, _ in ITEMS)
    d.set(bold=True, double_height=True)
    d._raw(kanji_bytes(f"合計 ￥{total:,}", profile) + b"\n")
    d.set(bold=False, normal_textsize=True)
    d._raw(kanji_bytes("(8%対象 ￥2,130 内税 ￥157)", profile) + b"\n")
    d._raw(kanji_bytes("(10%対象 ￥1,366 内税 ￥124)", profile) + b"\n")
    d._raw(kanji_bytes("※は軽減税率対象", profile) + b"\n")
    d.set(align="center")
    if native:
        d.barcode("{B" + SALE_ID, "CODE128", function_type="B")
    else:
        d.barcode(SALE_ID, "code128", force_software=True, width=2, height=64)
    d.qr(LINK, native=native, size=5)
    d.cut()
    return bytes(d.output)


async def send_once(job: bytes, baud: int) -> tuple[float, float]:
    """Seconds from send() to the last byte parsed, and to send() returning with the status."""
    sim = VirtualSerialPrinter(baud=baud)
    try:
        async with open_printer("escpos_serial", {"port": sim.path, "baudrate": baud or 115_200,
                                                  "profile": "tm-t20", "status_timeout_s": 5.0}) as printer:
            await printer.status()
            start = time.monotonic()
            await printer.send(job)
            returned = time.monotonic()
        receipt = sim.receipts[-1]
        assert len(receipt.text_lines) >= len(ITEMS) and (receipt.qr_payloads or receipt.images)
        return sim.last_byte_at - start, returned - start
    finally:
        sim.close()


async def main(runs: int) -> None:
    profile = PROFILES["tm-t20"]
    jobs = {"native QR + barcode": receipt_job(profile, True), "image QR + barcode": receipt_job(profile, False)}
    print(f"sample receipt ({len(ITEMS)} items, {profile.name}, {profile.paper_mm} mm), {runs} runs, median")
    print(f"{'job':<20} {'bytes':>7}  {'line':<12} {'last byte':>10} {'with status':>12}")
    for name, job in jobs.items():
        for label, baud in (("USB (pty)", 0), ("9600 baud", 9600)):
            times = [await send_once(job, baud) for _ in range(runs)]
            last = statistics.median(t[0] for t in times)
            status = statistics.median(t[1] for t in times)
            print(f"{name:<20} {len(job):>7}  {label:<12} {last:>9.3f}s {status:>11.3f}s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main(parser.parse_args().runs))
