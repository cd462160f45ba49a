"""An ESC/POS receipt printer that reads the bytes a driver sends: on a pty (serial or USB), on TCP 9100 style,
or from a bytes buffer; it answers `DLE EOT`, sends Automatic Status Back, and draws each receipt to a PNG.

    sim = VirtualSerialPrinter(baud=9600)       # driver escpos_serial, port = sim.path
    net = VirtualNetworkPrinter()                # driver escpos_network, host = "127.0.0.1", port = net.port
    receipts = parse_bytes(job)                  # the same parse without a device
    sim.receipts[-1].text_lines, .qr_payloads, .barcodes, .images, .cut
    sim.set_fault(near_end=True); sim.set_fault(paper_out_after=12); sim.set_fault(cover_open=True)
    sim.load_paper(); sim.unplug(); sim.replug()

The parse is `simulators.devices.printer_parse.EscPosMachine` (its own tables, not python-escpos's). `baud`
paces the reading as a serial line of that speed would (10 bits a byte), so `last_byte_at` is when the last
byte of a job would have reached the printer; baud 0 reads as fast as the bytes come (USB).
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulators.devices.printer_parse import LINE_DOTS, EscPosMachine, PrintedLine, PrintedReceipt
from simulators.devices.pty_device import VirtualPtyDevice

__all__ = ["EscPosMachine", "PrintedLine", "PrintedReceipt", "VirtualNetworkPrinter", "VirtualSerialPrinter",
           "cell_width", "parse_bytes", "render_png"]

DOTS = {58: 384, 80: 576}
# (file, face): Noto Sans Mono CJK JP is face 5 of the collection; fonts-noto-cjk installs it.
_FONTS = (("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 5),
          ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 0),
          ("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", 0))
CHUNK = 64


def parse_bytes(data: bytes) -> list[PrintedReceipt]:
    """The receipts (one a cut) that `data` prints on a printer with paper."""
    machine = EscPosMachine()
    machine.feed(data)
    return machine.receipts + ([machine.current] if machine.current.lines else [])


def render_png(receipt: PrintedReceipt, path: str | os.PathLike[str], paper_mm: int = 80) -> Path:
    """Draw `receipt` as thermal paper: text with its alignment and size, QR codes drawn, barcodes and images
    as marked boxes. For people to look at and for tests to find a file."""
    from PIL import Image, ImageDraw, ImageFont

    width = DOTS.get(paper_mm, 576)
    font_file = next((f for f in _FONTS if os.path.exists(f[0])), None)

    def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
        return ImageFont.truetype(font_file[0], size, index=font_file[1]) if font_file else ImageFont.load_default()

    heights = [_height(line) for line in receipt.lines]
    image = Image.new("L", (width, sum(heights) + 40), 255)
    draw = ImageDraw.Draw(image)
    y = 20
    for line, h in zip(receipt.lines, heights, strict=True):
        if line.kind == "qr":
            import qrcode

            qr = qrcode.make(str(line.payload), box_size=4, border=1).get_image().convert("L")
            draw_x = _x(line.align, qr.width, width)
            image.paste(qr, (draw_x, y))
        elif line.kind in ("barcode", "image"):
            label = f"|||| {line.payload} {line.text} ||||" if line.kind == "barcode" else "[image]"
            draw.rectangle((40, y + 4, width - 40, y + h - 4), outline=0)
            size = draw.textlength(label, font=font(20))
            draw.text((_x(1, int(size), width), y + h // 2 - 10), label, fill=0, font=font(20))
        elif line.text:
            cells = _cells(line.text, font(24), line.bold)
            if line.width > 1 or line.height > 1:
                cells = cells.resize((cells.width * line.width, cells.height * line.height))
            image.paste(cells, (_x(line.align, cells.width, width), y))
        y += h
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    image.save(target)
    return target


def cell_width(ch: str) -> int:
    """Dots a character takes in font A: 12 for a single byte (ASCII, half-width katakana), 24 for a two-byte
    Kanji-mode character (which ※ and ￥ are, whatever Unicode calls their width)."""
    return 12 if ord(ch) < 0x80 or 0xFF61 <= ord(ch) <= 0xFF9F else 24


def _cells(text: str, font: Any, bold: bool) -> Any:
    """One line as the printer lays it out: font A's 12 x 24 dot cells, two cells for a full-width character
    (Kanji, kana, full-width signs), so columns line up as on paper whatever the font's own widths."""
    from PIL import Image, ImageDraw

    advances = [cell_width(ch) for ch in text]
    cells = Image.new("L", (max(sum(advances), 1), LINE_DOTS), 255)
    draw = ImageDraw.Draw(cells)
    x = 0
    for ch, advance in zip(text, advances, strict=True):
        draw.text((x, 0), ch, fill=0, font=font, stroke_width=1 if bold else 0, stroke_fill=0)
        x += advance
    return cells


def _height(line: PrintedLine) -> int:
    return {"qr": 150, "barcode": 90, "image": 90}.get(line.kind, LINE_DOTS * line.height)


def _x(align: int, size: int, width: int) -> int:
    return 0 if align == 0 else max((width - size) // 2, 0) if align == 1 else max(width - size, 0)


class _PrinterCore:
    """The machine, the receipts' PNGs and the knobs, shared by the pty and the TCP printer."""

    def __init__(self, *, baud: int, png_dir: str | os.PathLike[str] | None, paper_mm: int,
                 on_receipt: Callable[[PrintedReceipt, Path | None], None] | None, **faults: object) -> None:
        self.machine = EscPosMachine(**faults)  # type: ignore[arg-type]
        self.baud = baud
        self.png_dir = Path(png_dir) if png_dir else None
        self.paper_mm = paper_mm
        self.pngs: list[Path] = []
        self.last_byte_at = 0.0
        self._on_receipt = on_receipt

    @property
    def receipts(self) -> list[PrintedReceipt]:
        return list(self.machine.receipts)

    def _take(self, data: bytes) -> bytes:
        """Feed the bytes (paced at `baud`); the answer bytes; each new receipt drawn and announced."""
        if self.baud:
            time.sleep(len(data) * 10 / self.baud)
        before = len(self.machine.receipts)
        reply = self.machine.feed(data)
        self.last_byte_at = time.monotonic()
        for receipt in self.machine.receipts[before:]:
            png = None
            if self.png_dir is not None:
                png = render_png(receipt, self.png_dir / f"receipt-{len(self.pngs) + 1:04d}.png", self.paper_mm)
                self.pngs.append(png)
            if self._on_receipt is not None:
                self._on_receipt(receipt, png)
        return reply

    def _answer(self, data: bytes) -> None:
        raise NotImplementedError

    def set_fault(self, *, near_end: bool | None = None, cover_open: bool | None = None, offline: bool | None = None,
                  paper_out_after: int | None = -1) -> None:
        """Turn a knob (None / -1 leaves it); an ASB block goes out if the driver enabled it."""
        self._answer(self.machine.set_fault(near_end=near_end, cover_open=cover_open, offline=offline,
                                            paper_out_after=paper_out_after))

    def load_paper(self) -> None:
        self._answer(self.machine.load_paper())

    async def until_receipts(self, count: int, within_s: float = 5.0) -> list[PrintedReceipt]:
        """Wait (polling) until `count` receipts are cut; the receipts then."""
        import asyncio

        async with asyncio.timeout(within_s):
            while len(self.machine.receipts) < count:  # noqa: ASYNC110 - the reader thread has no loop
                await asyncio.sleep(0.01)
        return self.receipts


class VirtualSerialPrinter(_PrinterCore, VirtualPtyDevice):
    """A printer on a pty (a serial port, or a USB printer's bulk pipe); `.path` is its stable link."""

    def __init__(self, name: str = "printer", *, baud: int = 0, png_dir: str | os.PathLike[str] | None = None,
                 paper_mm: int = 80, link_dir: str | os.PathLike[str] | None = None,
                 on_receipt: Callable[[PrintedReceipt, Path | None], None] | None = None, **faults: object) -> None:
        _PrinterCore.__init__(self, baud=baud, png_dir=png_dir, paper_mm=paper_mm, on_receipt=on_receipt, **faults)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wlock = threading.Lock()
        VirtualPtyDevice.__init__(self, name, link_dir)

    @property
    def options(self) -> dict[str, object]:
        return {"port": self.path, "baudrate": self.baud or 115_200}

    def replug(self) -> None:
        VirtualPtyDevice.replug(self)
        if self._thread is None and self.master is not None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._read, args=(self.master,), daemon=True,
                                            name=f"sim-{self.path}")
            self._thread.start()

    def unplug(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=5)
            self._thread = None
        VirtualPtyDevice.unplug(self)

    def _answer(self, data: bytes) -> None:
        if data and self.master is not None:
            with self._wlock, contextlib.suppress(OSError):
                self.write(data)

    def _read(self, master: int) -> None:
        size = CHUNK if self.baud else 65536
        while not self._stop.is_set():
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(master, size)
            except OSError:                     # no driver has the port open now (EIO): wait for one
                self._stop.wait(0.02)
                continue
            self._answer(self._take(data))


class VirtualNetworkPrinter(_PrinterCore):
    """A network printer on 127.0.0.1 (a random port, as TCP 9100 would be on the printer); one job at a time."""

    def __init__(self, *, baud: int = 0, png_dir: str | os.PathLike[str] | None = None, paper_mm: int = 80,
                 on_receipt: Callable[[PrintedReceipt, Path | None], None] | None = None, **faults: object) -> None:
        super().__init__(baud=baud, png_dir=png_dir, paper_mm=paper_mm, on_receipt=on_receipt, **faults)
        self.port = 0
        self._server: socket.socket | None = None
        self._client: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.replug()

    @property
    def options(self) -> dict[str, object]:
        return {"host": "127.0.0.1", "port": self.port}

    def replug(self) -> None:
        if self._server is not None:
            return
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(1)
        self.port = server.getsockname()[1]
        self._server = server
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, args=(server,), daemon=True, name="sim-net-printer")
        self._thread.start()

    def unplug(self) -> None:
        """The printer is switched off: the listening port and any connection close."""
        self._stop.set()
        for sock in (self._client, self._server):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._client = None
        self._thread = None

    def close(self) -> None:
        self.unplug()

    def __enter__(self) -> VirtualNetworkPrinter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _answer(self, data: bytes) -> None:
        client = self._client
        if data and client is not None:
            with contextlib.suppress(OSError):
                client.sendall(data)

    def _serve(self, server: socket.socket) -> None:
        size = CHUNK if self.baud else 65536
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([server], [], [], 0.05)
                if not ready:
                    continue
                client, _ = server.accept()
            except OSError:
                return
            self._client = client
            with client:
                while not self._stop.is_set():
                    try:
                        ready, _, _ = select.select([client], [], [], 0.05)
                        if not ready:
                            continue
                        data = client.recv(size)
                    except OSError:
                        break
                    if not data:
                        break
                    self._answer(self._take(data))
            self._client = None
