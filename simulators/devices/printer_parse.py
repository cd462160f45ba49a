"""An ESC/POS printer's reading of a byte stream: text, Kanji mode, styles, barcodes, QR, images, cuts, status.

`EscPosMachine.feed(data)` takes bytes as they arrive (a command may be split across chunks) and returns the
bytes the printer sends back: the answer to each `DLE EOT n`, and Automatic Status Back blocks once `GS a n`
enabled them. It reads the bytes with its own tables (not python-escpos's), so a test of the bytes a driver or
a layout wrote means something. Each cut closes a `PrintedReceipt`.

Fault knobs (`near_end`, `paper_out_after` lines, `cover_open`, `offline`) act as a printer does: while paper
out, cover open or offline it prints nothing (the data is lost, as in a real printer once its buffer is
cleared), yet it still answers `DLE EOT`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

# ESC commands with a fixed number of argument bytes (those the parser does not act on are skipped by count).
_ESC_ARGS = {0x20: 1, 0x21: 1, 0x24: 2, 0x25: 1, 0x2D: 1, 0x32: 0, 0x33: 1, 0x3D: 1, 0x3F: 1, 0x40: 0, 0x44: -1,
             0x45: 1, 0x47: 1, 0x4A: 1, 0x4D: 1, 0x52: 1, 0x54: 1, 0x56: 1, 0x5C: 2, 0x61: 1, 0x63: 2, 0x64: 1,
             0x69: 0, 0x6D: 0, 0x70: 3, 0x72: 1, 0x74: 1, 0x7B: 1}
_GS_ARGS = {0x21: 1, 0x24: 2, 0x2F: 1, 0x3A: 0, 0x42: 1, 0x48: 1, 0x49: 1, 0x4C: 2, 0x50: 2, 0x57: 2, 0x5C: 2,
            0x61: 1, 0x62: 1, 0x66: 1, 0x68: 1, 0x72: 1, 0x77: 1}
_FS_ARGS = {0x21: 1, 0x26: 0, 0x2D: 1, 0x2E: 0, 0x43: 1, 0x53: 2, 0x57: 1}
_BARCODE_A = {0: "upca", 1: "upce", 2: "ean13", 3: "ean8", 4: "code39", 5: "itf", 6: "codabar"}
_BARCODE_B = {65: "upca", 66: "upce", 67: "ean13", 68: "ean8", 69: "code39", 70: "itf", 71: "codabar",
              72: "code93", 73: "code128"}
LINE_DOTS = 30            # dots a text line takes with the default line spacing (ESC 2)


@dataclass
class PrintedLine:
    """One printed line as it looks, for the PNG: the text with its alignment, emphasis and size."""

    text: str
    align: int = 0              # 0 left, 1 centre, 2 right
    bold: bool = False
    width: int = 1
    height: int = 1
    kind: str = "text"          # text | qr | barcode | image
    payload: object = None


@dataclass
class PrintedReceipt:
    """What one cut of paper shows."""

    text_lines: list[str] = field(default_factory=list)
    qr_payloads: list[str] = field(default_factory=list)
    barcodes: list[tuple[str, str]] = field(default_factory=list)     # (symbology, data)
    images: int = 0
    cut: bool = False
    lines: list[PrintedLine] = field(default_factory=list)


def code128_text(data: bytes) -> str:
    """A Code 128 `GS k` payload ({A/{B/{C code sets, {S shift, {1 FNC1 ...) as the text it encodes."""
    out: list[str] = []
    code_set = "B"
    i = 0
    while i < len(data):
        b = data[i]
        if b == 0x7B and i + 1 < len(data):
            sel = chr(data[i + 1])
            i += 2
            if sel in "ABC":
                code_set = sel
            elif sel == "{":
                out.append("{")
            elif sel == "1":
                out.append("\x1d")          # FNC1 as GS, as a scanner reports it in GS1-128
            elif sel == "S" and i < len(data):
                out.append(chr(data[i]))
                i += 1
            continue
        out.append(f"{b:02d}" if code_set == "C" else chr(b))
        i += 1
    return "".join(out)


class EscPosMachine:
    """The printer's state and its parse of the stream; `receipts` are the cut ones, `current` the one on."""

    def __init__(self, *, near_end: bool = False, paper_out_after: int | None = None, cover_open: bool = False,
                 offline: bool = False) -> None:
        self.near_end = near_end
        self.paper_out_after = paper_out_after
        self.cover_open = cover_open
        self.offline = offline
        self.paper_out = False
        self.lines_printed = 0
        self.receipts: list[PrintedReceipt] = []
        self.torn: list[PrintedReceipt] = []      # receipts cut short by a paper end, left on the old roll
        self.current = PrintedReceipt()
        self.asb = 0
        self.bytes_in = 0
        self._pending = b""
        self._replies = bytearray()
        self._lock = threading.RLock()
        self._reset_modes()

    def _reset_modes(self) -> None:
        self.kanji = False
        self.kanji_system = 1          # FS C: 0 JIS, 1 Shift_JIS
        self.code_page = 0
        self.align = 0
        self.bold = False
        self.width = self.height = 1
        self.qr_store = b""
        self._line = bytearray()
        self._line_text: list[str] = []

    # -- faults -------------------------------------------------------------------------------------------------
    @property
    def stopped(self) -> bool:
        """Printing stops: paper out, cover open or offline (the printer still answers DLE EOT)."""
        return self.paper_out or self.cover_open or self.offline

    def set_fault(self, *, near_end: bool | None = None, cover_open: bool | None = None,
                  offline: bool | None = None, paper_out_after: int | None = -1) -> bytes:
        """Change a knob as someone at the printer would; the ASB block it causes (if enabled)."""
        with self._lock:
            before = self.asb_block()
            if near_end is not None:
                self.near_end = near_end
            if cover_open is not None:
                self.cover_open = cover_open
            if offline is not None:
                self.offline = offline
            if paper_out_after != -1:
                self.paper_out_after = paper_out_after
            return self._asb_if_changed(before)

    def load_paper(self) -> bytes:
        """A new roll: paper out and near-end cleared, no paper-out knob; the part of a receipt printed before
        the paper ran out goes with the old roll (kept in `torn`). The ASB block it causes."""
        with self._lock:
            before = self.asb_block()
            if self.current.lines:
                self.torn.append(self.current)
                self.current = PrintedReceipt()
            self.paper_out = False
            self.near_end = False
            self.paper_out_after = None
            self.lines_printed = 0
            return self._asb_if_changed(before)

    # -- status -------------------------------------------------------------------------------------------------
    def dle_eot(self, n: int) -> int:
        """The printer's one-byte answer to `DLE EOT n` (fixed bits 0xx1xx10)."""
        base = 0x12
        if n == 1:
            return base | (0x08 if self.stopped else 0)
        if n == 2:
            return base | (0x04 if self.cover_open else 0) | (0x20 if self.paper_out else 0)
        if n == 3:
            return base
        return base | (0x0C if self.near_end or self.paper_out else 0) | (0x60 if self.paper_out else 0)

    def asb_block(self) -> bytes:
        """The four Automatic Status Back bytes (first byte's fixed bits 0xx1xx00)."""
        first = 0x10 | (0x08 if self.stopped else 0) | (0x20 if self.cover_open else 0)
        third = (0x03 if self.near_end or self.paper_out else 0) | (0x0C if self.paper_out else 0)
        return bytes((first, 0x00, third, 0x0F))

    def _asb_if_changed(self, before: bytes) -> bytes:
        after = self.asb_block()
        return after if self.asb and after != before else b""

    # -- parsing ------------------------------------------------------------------------------------------------
    def feed(self, data: bytes) -> bytes:
        """Take the next bytes of the stream; the bytes the printer answers."""
        with self._lock:
            self.bytes_in += len(data)
            self._pending += data
            while self._pending:
                used = self._step(self._pending)
                if used == 0:
                    break                       # an incomplete command: wait for more bytes
                self._pending = self._pending[used:]
            replies, self._replies = bytes(self._replies), bytearray()
            return replies

    def _step(self, buf: bytes) -> int:
        b = buf[0]
        if b == 0x10:                           # DLE: real-time commands, answered even while stopped
            if len(buf) < 3:
                return 0
            if buf[1] == 0x04:
                self._replies.append(self.dle_eot(buf[2]))
                return 3
            if buf[1] == 0x14:
                return 5 if len(buf) >= 5 else 0
            return 1
        if b == 0x1B:
            return self._esc(buf)
        if b == 0x1D:
            return self._gs(buf)
        if b == 0x1C:
            return self._fs(buf)
        if b == 0x0A:
            self._newline()
            return 1
        if b < 0x20:
            return 1                            # CR, HT and the like: nothing to keep
        if self.kanji and (self.kanji_system == 0 or 0x81 <= b <= 0x9F or 0xE0 <= b <= 0xFC):
            if len(buf) < 2:
                return 0
            pair = buf[:2]
            try:
                ch = (pair.decode("cp932") if self.kanji_system == 1
                      else bytes(x | 0x80 for x in pair).decode("euc_jp"))
            except UnicodeDecodeError:
                ch = "\ufffd"
            self._text(ch)
            return 2
        if b >= 0x80:
            self._text(bytes((b,)).decode("cp932") if self.code_page == 1 and 0xA1 <= b <= 0xDF
                       else bytes((b,)).decode("cp437"))
        else:
            self._text(chr(b))
        return 1

    def _esc(self, buf: bytes) -> int:
        if len(buf) < 2:
            return 0
        cmd = buf[1]
        if cmd == 0x2A:                         # ESC * m nL nH d...: a bit-image column band
            if len(buf) < 5:
                return 0
            n = buf[3] + 256 * buf[4]
            size = 5 + n * (3 if buf[2] in (32, 33) else 1)
            if len(buf) < size:
                return 0
            self._image(1)
            return size
        args = _ESC_ARGS.get(cmd, 0)
        if args == -1:                          # ESC D: tab stops up to NUL
            end = buf.find(b"\x00", 2)
            return 0 if end < 0 else end + 1
        if len(buf) < 2 + args:
            return 0
        arg = buf[2] if args else 0
        if cmd == 0x40:
            self._reset_modes()
        elif cmd == 0x61:
            self.align = arg % 48 if arg >= 48 else arg
        elif cmd == 0x45:
            self.bold = bool(arg & 1)
        elif cmd == 0x21:
            self.bold = bool(arg & 0x08)
            self.height = 2 if arg & 0x10 else 1
            self.width = 2 if arg & 0x20 else 1
        elif cmd == 0x74:
            self.code_page = arg
        elif cmd == 0x64:                       # ESC d n: print and feed n lines
            self._newline(force=True)
            self._feed_lines(max(arg - 1, 0))
        elif cmd == 0x69 or cmd == 0x6D:
            self._cut()
        return 2 + args

    def _gs(self, buf: bytes) -> int:
        if len(buf) < 2:
            return 0
        cmd = buf[1]
        if cmd == 0x56:                         # GS V m [n]: cut
            if len(buf) < 3:
                return 0
            size = 4 if buf[2] in (65, 66, 97, 98, 103, 104) else 3
            if len(buf) < size:
                return 0
            self._newline()
            self._cut()
            return size
        if cmd == 0x6B:                         # GS k m ...: barcode
            return self._barcode(buf)
        if cmd == 0x28:                         # GS ( x pL pH ...: functions with a length
            if len(buf) < 5:
                return 0
            size = 5 + buf[3] + 256 * buf[4]
            if len(buf) < size:
                return 0
            if buf[2] == 0x6B:
                self._code2d(buf[5:size])
            elif buf[2] == 0x4C and buf[5:size][1:2] in (b"\x32", b"2"):
                self._image(8)                  # GS ( L fn 50: print the graphics stored
            return size
        if cmd == 0x76:                         # GS v 0 m xL xH yL yH d...: raster image
            if len(buf) < 8:
                return 0
            x, y = buf[4] + 256 * buf[5], buf[6] + 256 * buf[7]
            size = 8 + x * y
            if len(buf) < size:
                return 0
            self._image(y // LINE_DOTS + 1)
            return size
        args = _GS_ARGS.get(cmd, 0)
        if len(buf) < 2 + args:
            return 0
        if cmd == 0x21:
            self.width, self.height = (buf[2] >> 4) + 1, (buf[2] & 0x0F) + 1
        elif cmd == 0x61:
            self.asb = buf[2]
            self._replies += self.asb_block() if self.asb else b""
        return 2 + args

    def _fs(self, buf: bytes) -> int:
        if len(buf) < 2:
            return 0
        cmd = buf[1]
        args = _FS_ARGS.get(cmd, 0)
        if len(buf) < 2 + args:
            return 0
        if cmd == 0x26:
            self.kanji = True
        elif cmd == 0x2E:
            self.kanji = False
        elif cmd == 0x43:
            self.kanji_system = buf[2] % 48 if buf[2] >= 48 else buf[2]
        return 2 + args

    def _barcode(self, buf: bytes) -> int:
        if len(buf) < 3:
            return 0
        m = buf[2]
        if m <= 6:
            end = buf.find(b"\x00", 3)
            if end < 0:
                return 0
            data, size, name = buf[3:end], end + 1, _BARCODE_A.get(m, "unknown")
        else:
            if len(buf) < 4 or len(buf) < 4 + buf[3]:
                return 0
            data, size, name = buf[4:4 + buf[3]], 4 + buf[3], _BARCODE_B.get(m, "unknown")
        text = code128_text(data) if name == "code128" else data.decode("ascii", "replace")
        if self._printing():
            self.current.barcodes.append((name, text))
            self.current.lines.append(PrintedLine(text, self.align, kind="barcode", payload=name))
            self._feed_lines(3)
        return size

    def _code2d(self, body: bytes) -> None:
        cn, fn = body[0], body[1]
        if cn != 49:
            return
        if fn == 80:                            # store the data (m = 48 follows)
            self.qr_store = body[3:]
        elif fn == 81 and self._printing():     # print the symbol stored
            text = self.qr_store.decode("utf-8", "replace")
            self.current.qr_payloads.append(text)
            self.current.lines.append(PrintedLine(text, self.align, kind="qr", payload=text))
            self._feed_lines(6)

    # -- the paper ------------------------------------------------------------------------------------------------
    def _printing(self) -> bool:
        return not self.stopped

    def _text(self, ch: str) -> None:
        if self._printing():
            self._line_text.append(ch)

    def _newline(self, force: bool = False) -> None:
        if not self._printing():
            self._line_text = []
            return
        if self._line_text or force:
            text = "".join(self._line_text)
            if self._line_text:
                self.current.text_lines.append(text)
                self.current.lines.append(PrintedLine(text, self.align, self.bold, self.width, self.height))
            else:
                self.current.lines.append(PrintedLine(""))
        else:
            self.current.lines.append(PrintedLine(""))
        self._line_text = []
        self._feed_lines(1)

    def _feed_lines(self, n: int) -> None:
        """Paper moves n lines; the paper-out knob trips when the roll's remaining lines are used up."""
        self.lines_printed += n
        if self.paper_out_after is not None and self.lines_printed >= self.paper_out_after and not self.paper_out:
            before = self.asb_block()
            self.paper_out = True
            self._replies += self._asb_if_changed(before)

    def _image(self, lines: int) -> None:
        if self._printing():
            self.current.images += 1
            self.current.lines.append(PrintedLine("[image]", self.align, kind="image"))
            self._feed_lines(lines)

    def _cut(self) -> None:
        if not self._printing():
            return
        self.current.cut = True
        self.receipts.append(self.current)
        self.current = PrintedReceipt()
