"""ESC/POS printers on python-escpos's transports: USB (pyusb, the bulk endpoints), serial, and TCP port 9100.

python-escpos opens the device and writes; what it lacks is added here: the status (`DLE EOT 1..4`, one byte
each, asked together and read back in order) and Automatic Status Back (`GS a n`, enabled on open; the printer
then sends four bytes by itself whenever paper, cover or errors change). Bytes coming back are sorted by their
fixed bits: a `DLE EOT` reply is 0xx1xx10, an ASB block starts 0xx1xx00.

`send(job)` writes the job in chunks, taking any ASB block between them: a paper end in the middle of the job
stops it there with `PrintFailed(status, sent_bytes)`. After the last byte it asks the status; a printer that
stopped is `PrintFailed` too. A serial line is slow (9600 baud carries 960 bytes a second), so the wait for the
replies allows for the bytes still on the line.

Options, every driver: `profile` (a name in `drivers.printers.PROFILES`, "tm-t20"), `status_timeout_s` (2.0),
`asb` (true: enable Automatic Status Back). `escpos_usb`: `vendor_id`, `product_id` (hex, "04b8", "0e15"),
`in_ep` (0x82), `out_ep` (0x01). `escpos_serial`: `port` (a /dev/serial/by-id path), `baudrate` (38400, the
Epson default). `escpos_network`: `host`, `port` (9100).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

from drivers.base import DeviceUnavailable, DriverOptionError, UnavailableReason
from drivers.options import Options
from drivers.printers import (
    DLE_EOT,
    PrinterProfile,
    PrinterStatus,
    PrintFailed,
    from_asb,
    from_dle_eot,
    is_asb_head,
    is_dle_eot_reply,
    profile_named,
)

ASB_ENABLE = b"\x1da\x0e"          # GS a n: report online/offline, errors and the roll paper sensor
ASK_STATUS = b"".join(DLE_EOT + bytes((n,)) for n in (1, 2, 3, 4))
CHUNK = 1024
POLL_S = 0.05


class _EscposPrinter:
    """What the three transports share: options, the status replies, chunked sending, unplug handling."""

    name = "escpos"

    def __init__(self, options: Mapping[str, object]) -> None:
        o = Options(self.name, options)
        self.profile: PrinterProfile = profile_named(o.text("profile", "tm-t20"))
        self.status_timeout_s = o.number("status_timeout_s", 2.0, 0.1, 60.0)
        self.asb = o.flag("asb", True)
        self._read_options(o)
        o.finish()
        self._device: Any = None
        self._inbox = bytearray()
        self._replies: list[int] = []
        self._asb: PrinterStatus | None = None
        self._lock = asyncio.Lock()

    # -- per transport ------------------------------------------------------------------------------------------
    def _read_options(self, o: Options) -> None:
        raise NotImplementedError

    def _where(self) -> str:
        raise NotImplementedError

    def _make(self) -> Any:
        """The python-escpos printer object (not yet open)."""
        raise NotImplementedError

    def _settle(self) -> None:
        """After open: make reads return at once when nothing came (each transport its own way)."""

    def _read(self) -> bytes:
        """Whatever the printer sent (b"" when nothing), waiting at most about POLL_S."""
        raise NotImplementedError

    def _peek(self) -> bytes:
        """Whatever the printer sent already, without waiting (between the chunks of a job)."""
        raise NotImplementedError

    def _line_s(self, nbytes: int) -> float:
        """How long `nbytes` take on the wire (a serial line's speed; USB and TCP: no time)."""
        return 0.0

    # -- the shape every printer has ---------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        device = self._make()
        try:
            await asyncio.to_thread(device.open)
        except Exception as exc:                 # python-escpos wraps every cause in DeviceNotFoundError
            raise self._cannot_open(exc) from exc
        self._device = device
        self._settle()
        self._inbox.clear()
        if self.asb:
            await self._write(ASB_ENABLE)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._close()

    async def status(self) -> PrinterStatus:
        """Ask `DLE EOT 1..4` and read the four replies (DeviceUnavailable if none come: the printer is off)."""
        async with self._lock:
            return await self._ask(0)

    async def send(self, job: bytes) -> PrinterStatus:
        """Write the whole job, then read the status; PrintFailed if the printer stopped on the way."""
        async with self._lock:
            sent = 0
            for start in range(0, len(job), CHUNK):
                chunk = job[start:start + CHUNK]
                await self._write(chunk)
                sent += len(chunk)
                self._drain(self._peek)
                if self._asb is not None and self._asb.stops_printing:
                    raise PrintFailed(self._asb, sent)
            status = await self._ask(sent)
            if status.stops_printing:
                raise PrintFailed(status, sent)
            return status

    # -- the bytes ------------------------------------------------------------------------------------------------
    async def _ask(self, in_flight: int) -> PrinterStatus:
        self._replies.clear()
        await self._write(ASK_STATUS)
        deadline = time.monotonic() + self.status_timeout_s + self._line_s(in_flight + len(ASK_STATUS))
        while len(self._replies) < 4:
            if time.monotonic() > deadline:
                raise DeviceUnavailable(UnavailableReason.FAILED, f"printer {self.name!r} at {self._where()} did "
                                        f"not answer its status request within {self.status_timeout_s:g} s. Fix: "
                                        "check that it is on, and the port, baud rate or address")
            await asyncio.to_thread(self._drain, self._read)
        return from_dle_eot(*self._replies[:4])

    def _drain(self, read: Any) -> None:
        """Read what came back and sort it: DLE EOT replies in order, ASB blocks as the latest status."""
        data = self._guard(read)
        self._inbox += data
        while self._inbox:
            head = self._inbox[0]
            if is_asb_head(head):
                if len(self._inbox) < 4:
                    return
                self._asb = from_asb(bytes(self._inbox[:4]))
                del self._inbox[:4]
            else:
                if is_dle_eot_reply(head):
                    self._replies.append(head)
                del self._inbox[:1]

    async def _write(self, data: bytes) -> None:
        await asyncio.to_thread(self._guard, lambda: self._device._raw(data))

    def _guard(self, action: Any) -> Any:
        """Run one transport call; a device that went away is DeviceUnavailable (the supervisor reopens)."""
        if self._device is None:
            raise DeviceUnavailable(UnavailableReason.FAILED, f"printer {self.name!r} is not open "
                                                              "(the agent opens it again by itself)")
        try:
            return action()
        except DeviceUnavailable:
            raise
        except Exception as exc:                 # serial, socket and pyusb each raise their own kind
            self._close()
            raise DeviceUnavailable(UnavailableReason.UNPLUGGED, f"printer {self.name!r} at {self._where()} went "
                                    f"away ({exc}). Fix: plug it back in or switch it on; the agent reopens it "
                                    "by itself") from exc

    def _cannot_open(self, exc: Exception) -> DeviceUnavailable:
        text = f"{exc} {exc.__cause__ or ''} {exc.__context__ or ''}"
        reason = (UnavailableReason.PERMISSION if "ermission" in text or "Errno 13" in text
                  else UnavailableReason.BUSY if "busy" in text.lower()
                  else UnavailableReason.NOT_FOUND)
        fix = {UnavailableReason.PERMISSION: "give the printer to group omo-edge with a udev rule "
                                             "(systemd/99-omo-edge.rules covers Epson, Star, Citizen, Bixolon)",
               UnavailableReason.BUSY: "another program holds the printer (CUPS's usblp?); stop it",
               UnavailableReason.NOT_FOUND: "check the cable, the power and the address "
                                            "(omo-edge doctor lists the printers it sees)"}[reason]
        cause = " ".join(str(exc).split())        # python-escpos's messages span lines; a log line should not
        return DeviceUnavailable(reason, f"printer {self.name!r}: cannot open {self._where()} ({cause}). Fix: {fix}")

    def _close(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            try:
                device.close()
            except Exception:                     # closing a device that is gone may fail; it is gone either way
                self._abandon(device)

    def _abandon(self, device: Any) -> None:
        """Release what a failed close left open, so python-escpos's own close at collection has nothing to do."""


class SerialPrinter(_EscposPrinter):
    """A printer on a serial port (RS-232, or a USB-serial adapter)."""

    name = "escpos_serial"

    def _read_options(self, o: Options) -> None:
        self.port = o.text("port")
        self.baudrate = o.integer("baudrate", 38_400, 1200, 921_600)

    def _where(self) -> str:
        return self.port

    def _make(self) -> Any:
        from escpos.printer import Serial

        resolved = os.path.realpath(self.port)     # a by-id link may point elsewhere since last time
        return Serial(resolved, baudrate=self.baudrate, timeout=POLL_S, dsrdtr=False,
                      profile=self.profile.escpos_profile)

    def _read(self) -> bytes:
        port = self._device.device
        first: bytes = port.read(1)           # returns as soon as one byte came (read(64) would wait for 64)
        return first + (port.read(port.in_waiting) if first and port.in_waiting else b"")

    def _peek(self) -> bytes:
        port = self._device.device
        data: bytes = port.read(port.in_waiting) if port.in_waiting else b""
        return data

    def _abandon(self, device: Any) -> None:
        # python-escpos flushes before closing, and flushing a port whose adapter is gone fails (EIO);
        # pyserial's own close does not flush.
        with contextlib.suppress(Exception):
            device.device.close()

    def _line_s(self, nbytes: int) -> float:
        return nbytes * 10 / self.baudrate


class NetworkPrinter(_EscposPrinter):
    """A printer on the store's network, raw TCP (port 9100)."""

    name = "escpos_network"

    def _read_options(self, o: Options) -> None:
        self.host = o.text("host")
        self.port = o.integer("port", 9100, 1, 65_535)
        self.connect_timeout_s = o.number("connect_timeout_s", 5.0, 0.1, 60.0)

    def _where(self) -> str:
        return f"{self.host}:{self.port}"

    def _make(self) -> Any:
        from escpos.printer import Network

        return Network(self.host, self.port, timeout=self.connect_timeout_s, profile=self.profile.escpos_profile)

    def _settle(self) -> None:
        self._device.device.settimeout(POLL_S)

    def _read(self) -> bytes:
        try:
            data: bytes = self._device.device.recv(64)
        except TimeoutError:
            return b""
        if not data:
            raise ConnectionResetError(errno.ECONNRESET, "the printer closed the connection")
        return data

    def _peek(self) -> bytes:
        try:
            data: bytes = self._device.device.recv(64, socket.MSG_DONTWAIT)
        except (BlockingIOError, TimeoutError):
            return b""
        if not data:
            raise ConnectionResetError(errno.ECONNRESET, "the printer closed the connection")
        return data


class UsbPrinter(_EscposPrinter):
    """A USB printer class device, claimed through pyusb (not the kernel's usblp)."""

    name = "escpos_usb"

    def _read_options(self, o: Options) -> None:
        self.vendor_id = _hex(o, "vendor_id")
        self.product_id = _hex(o, "product_id")
        self.in_ep = o.integer("in_ep", 0x82, 0x81, 0x8F)
        self.out_ep = o.integer("out_ep", 0x01, 0x01, 0x0F)

    def _where(self) -> str:
        return f"USB {self.vendor_id:04x}:{self.product_id:04x}"

    def _make(self) -> Any:
        from escpos.printer import Usb

        return Usb(self.vendor_id, self.product_id, in_ep=self.in_ep, out_ep=self.out_ep, timeout=2000,
                   profile=self.profile.escpos_profile)

    def _read(self) -> bytes:
        import usb.core

        try:
            return bytes(self._device.device.read(self.in_ep, 64, int(POLL_S * 1000)))
        except usb.core.USBTimeoutError:
            return b""

    def _peek(self) -> bytes:
        import usb.core

        try:
            return bytes(self._device.device.read(self.in_ep, 64, 1))
        except usb.core.USBTimeoutError:
            return b""


def _hex(o: Options, key: str) -> int:
    text = o.text(key)
    try:
        value = int(text, 16)
    except ValueError:
        value = -1
    if not 0 <= value <= 0xFFFF:
        raise DriverOptionError(key, f"{text!r} is not a USB ID. Fix: write it in hex as lsusb shows it, "
                                     f'e.g. {key} = "04b8"')
    return value
