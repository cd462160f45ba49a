"""VirtualSerialScanner: a serial barcode scanner on a real pty, sending the bytes a real one sends.

    sim = VirtualSerialScanner()
    SerialScanner("handheld", {"port": sim.path})      # the real driver, unchanged
    sim.scan("4006381333931", aim="]E0")                # b"]E04006381333931\\r" on the wire
    sim.garbage(b"\\x00\\xff"); sim.unplug(); sim.replug()
"""

from __future__ import annotations

import os
import time

from simulators.devices.pty_device import VirtualPtyDevice


def wire_time_s(n_bytes: int, baudrate: int, bits_per_byte: int = 10) -> float:
    """Time the bytes take on the wire: 8N1 is 10 bits a byte (start, 8 data, stop)."""
    return n_bytes * bits_per_byte / baudrate


class VirtualSerialScanner(VirtualPtyDevice):
    """Fault knobs: garbage bytes, unplug/replug, baud pacing, framing (AIM, prefix, suffix, STX/ETX)."""

    def __init__(self, name: str = "scanner", *, suffix: bytes = b"\r", prefix: bytes = b"",
                 stx_etx: bool = False, baudrate: int | None = None,
                 link_dir: str | os.PathLike[str] | None = None) -> None:
        super().__init__(name, link_dir)
        self.suffix = suffix
        self.prefix = prefix
        self.stx_etx = stx_etx
        self.baudrate = baudrate      # None: as fast as the pty takes it; else paced like the wire
        self.sent: list[bytes] = []

    def frame(self, code: str | bytes, *, aim: str | None = None, suffix: bytes | None = None) -> bytes:
        """The exact bytes a scanner configured like this one sends for `code`."""
        data = code.encode("utf-8") if isinstance(code, str) else code
        body = (aim.encode("ascii") if aim else b"") + data
        body = self.prefix + body
        if self.stx_etx:
            body = b"\x02" + body + b"\x03"
        return body + (self.suffix if suffix is None else suffix)

    def scan(self, code: str | bytes, *, aim: str | None = None, suffix: bytes | None = None) -> bytes:
        """Send one scan; returns the bytes sent."""
        wire = self.frame(code, aim=aim, suffix=suffix)
        self.send(wire)
        return wire

    def garbage(self, data: bytes = b"\x00\xff\x13\x7f") -> None:
        """Line noise, as from a replug or a wrong baud rate."""
        self.send(data)

    def send(self, data: bytes) -> None:
        self.sent.append(data)
        if not self.baudrate:
            self.write(data)
            return
        per_byte = wire_time_s(1, self.baudrate)
        start = time.perf_counter()
        for i in range(len(data)):
            self.write(data[i:i + 1])
            delay = start + (i + 1) * per_byte - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
