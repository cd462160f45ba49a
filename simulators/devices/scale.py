"""Scales on real ptys, answering the drivers byte for byte: Toledo 8217, SCP-01, CAS PD-II and a HID POS scale.

    sim = VirtualScale("scp01")                 # driver scp01, port = sim.path ("nci": format = "nci" too)
    sim.place(350_000)                          # a 350 g item put down: motion, then 350 000 mg still
    sim.lift(350_000); sim.vibrate(0.5, 20_000); sim.place(1_000_000, on_platter=0.8)
    sim.garble(2); sim.garbage(b"\\x00\\xff"); sim.mute(); sim.unplug(); sim.replug()
    hid = VirtualScale("hid")                   # driver hid_scale, path = hid.path (a pty stands in for hidraw)

A serial scale answers each request it parses (`W`, `LF W CR`, `W CR`, ENQ then DC1) with the reading its physics
(scale_physics.py) gives at that moment, encoded by scale_wire.py; `Z` zeroes it. The HID scale sends a report
at `report_hz` by itself, as HID scales do. A thread serves the pty, so replies go out whatever the test's loop
does; with `baudrate` set they are paced like the wire (10 bits a byte, as 8N1 and 7E1 both are).
"""

from __future__ import annotations

import os
import select
import threading
import time

from simulators.devices.pty_device import VirtualPtyDevice
from simulators.devices.scale_physics import Sample, ScalePhysics
from simulators.devices.scale_wire import ENCODERS, nci_status

PROTOCOLS = {"toledo": "toledo8217", "scp01": "scp01", "nci": "scp01", "cas": "cas_pd2", "hid": "hid_scale"}


class VirtualScale(VirtualPtyDevice):
    """One scale speaking `protocol` (toledo, scp01, nci, cas, hid); `requests` and `replies` record the wire."""

    def __init__(self, protocol: str = "toledo", name: str = "scale", *, physics: ScalePhysics | None = None,
                 seed: int = 0, baudrate: int | None = None, report_hz: float = 20.0,
                 link_dir: str | os.PathLike[str] | None = None) -> None:
        if protocol not in ENCODERS:
            raise ValueError(f"no scale protocol {protocol!r}: use one of {', '.join(ENCODERS)}")
        self.protocol = protocol
        self.driver = PROTOCOLS[protocol]
        self.physics = physics or ScalePhysics(seed=seed, started_at=time.monotonic())
        self.baudrate = baudrate
        self.report_hz = report_hz
        self.requests: list[bytes] = []
        self.replies: list[bytes] = []
        self._encode = ENCODERS[protocol]
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending = b""
        self._garble = 0
        self._muted = False
        super().__init__(f"{name}-{protocol}", link_dir)

    @property
    def options(self) -> dict[str, object]:
        """The driver options that read this scale."""
        if self.protocol == "hid":
            return {"path": self.path}
        return {"port": self.path, "format": "nci"} if self.protocol == "nci" else {"port": self.path}

    # -- the platter ---------------------------------------------------------------------------------------

    def place(self, mass_mg: int, *, on_platter: float = 1.0) -> None:
        with self._lock:
            self.physics.place(mass_mg, time.monotonic(), on_platter=on_platter)

    def lift(self, mass_mg: int) -> None:
        with self._lock:
            self.physics.lift(mass_mg, time.monotonic())

    def vibrate(self, duration_s: float, amplitude_mg: float) -> None:
        with self._lock:
            self.physics.vibrate(time.monotonic(), duration_s, amplitude_mg)

    def zero(self) -> None:
        """The scale's own zero key: what rests on the platter now reads 0."""
        with self._lock:
            self.physics.zero(time.monotonic())

    def lose_zero(self) -> None:
        with self._lock:
            self.physics.lose_zero()

    def sample(self) -> Sample:
        with self._lock:
            return self.physics.sample(time.monotonic())

    # -- faults ----------------------------------------------------------------------------------------------

    def garble(self, replies: int = 1) -> None:
        """Corrupt the next `replies` replies (a byte flipped on the wire)."""
        with self._lock:
            self._garble += replies

    def garbage(self, data: bytes = b"\x00\xff\x13\x7f") -> None:
        """Line noise on the wire now, as from a replug or a wrong baud rate."""
        self.write(data)

    def mute(self, muted: bool = True) -> None:
        """Stop answering (a scale switched off behind a live USB adapter, or at the wrong baud rate)."""
        self._muted = muted

    # -- the pty ---------------------------------------------------------------------------------------------

    def replug(self) -> None:
        super().replug()
        if self._thread is None and self.master is not None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._serve, args=(self.master,), daemon=True,
                                            name=f"sim-scale-{self.protocol}")
            self._thread.start()

    def unplug(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=5)
            self._thread = None
        super().unplug()

    def _serve(self, master: int) -> None:
        if self.protocol == "hid":
            os.set_blocking(master, False)      # a report nobody reads is dropped, never waited on
        next_report = time.monotonic()
        while not self._stop.is_set():
            wait = max(0.0, next_report - time.monotonic()) if self.protocol == "hid" else 0.05
            ready, _, _ = select.select([master], [], [], min(wait, 0.05))
            if ready:
                try:
                    data = os.read(master, 4096)
                except OSError:             # no driver has the port open now (EIO): wait for one
                    self._stop.wait(0.02)
                    data = b""
                if data and self.protocol != "hid":
                    self._requests(master, data)
            if self.protocol == "hid" and time.monotonic() >= next_report:
                next_report += 1 / self.report_hz
                if not self._muted:
                    self._send(master, self._reading(), paced=False)

    def _requests(self, master: int, data: bytes) -> None:
        self._pending += data
        while self._pending:
            reply = self._answer()
            if reply is None:
                return
            if reply and not self._muted:
                self._send(master, reply, paced=True)

    def _answer(self) -> bytes | None:
        """The reply to the request at the head of `_pending` (b"" for none), None until one is complete."""
        pending = self._pending
        if self.protocol == "toledo":
            head, self._pending = pending[:1], pending[1:]
            self._note(head)
            return self._zeroed(b"") if head == b"Z" else self._reading() if head == b"W" else b""
        if self.protocol == "cas":
            head, self._pending = pending[:1], pending[1:]
            self._note(head)
            return b"\x06" if head == b"\x05" else self._reading() if head == b"\x11" else b""
        if self.protocol == "nci":
            end = pending.find(b"\r")
            if end < 0:
                return None
            request, self._pending = pending[:end + 1].lstrip(b"\n"), pending[end + 1:]
            self._note(request)
            if request == b"Z\r":
                self.zero()
                return b"\n" + nci_status(self.sample()) + b"\r\x03"
            return self._reading() if request == b"W\r" else b""
        start = pending.find(b"\n")
        if start < 0:
            self._pending = b""
            return b""
        end = pending.find(b"\r", start)
        if end < 0:
            self._pending = pending[start:]
            return None
        request, self._pending = pending[start:end + 1], pending[end + 1:]
        self._note(request)
        return self._zeroed(self._reading()) if request == b"\nZ\r" else \
            self._reading() if request == b"\nW\r" else b""

    def _note(self, request: bytes) -> None:
        with self._lock:
            self.requests.append(request)

    def _zeroed(self, reply: bytes) -> bytes:
        self.zero()
        return self._reading() if reply else b""

    def _reading(self) -> bytes:
        with self._lock:
            reply = self._encode(self.physics.sample(time.monotonic()))
            if self._garble:
                self._garble -= 1
                middle = len(reply) // 2
                reply = reply[:middle] + (b"\x00" if self.protocol == "hid" else b"\x7e") + reply[middle + 1:]
                if self.protocol == "hid":
                    reply = reply[:1] + b"\x00" + reply[2:]     # status 0: no such status
            return reply

    def _send(self, master: int, data: bytes, *, paced: bool) -> None:
        with self._lock:
            self.replies.append(data)
        per_byte = 10 / self.baudrate if paced and self.baudrate else 0.0
        start = time.perf_counter()
        try:
            for i in range(len(data)) if per_byte else (0,):
                os.write(master, data[i:i + 1] if per_byte else data)
                delay = start + (i + 1) * per_byte - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
        except OSError:
            pass                        # nobody reads the pty (a HID report unread): dropped, as on USB
