"""Keyboard-wedge scanners: read the evdev node's raw `input_event` bytes with an exclusive grab, decode keys.

The grab (EVIOCGRAB) stops scans from also being typed into a desktop or a TTY login. Decoding runs on
the raw bytes (drivers/evdev_codec.py, drivers/keymap.py), so the simulator feeding the same bytes through
a pty exercises this very code; only the grab itself needs a real event device.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Self

from drivers import layouts
from drivers.aim import gtin_check_ok, split_aim
from drivers.base import DeviceUnavailable, ScanEvent, UnavailableReason
from drivers.evdev_codec import EventDecoder
from drivers.events import FAILED, ScanQueue, snapshot
from drivers.keymap import WedgeDecoder
from drivers.options import Options

EVIOCGRAB = 0x40044590           # _IOW('E', 0x90, int)
EVIOCGLED = 0x80084519           # _IOC(READ, 'E', 0x19, 8): the LED bitmap; bit 1 is caps lock
MISMATCH = "layout_mismatch_count"
_OPEN_REASONS = {errno.ENOENT: UnavailableReason.NOT_FOUND, errno.ENODEV: UnavailableReason.NOT_FOUND,
                 errno.EACCES: UnavailableReason.PERMISSION, errno.EPERM: UnavailableReason.PERMISSION,
                 errno.EBUSY: UnavailableReason.BUSY}
_FIXES = {UnavailableReason.NOT_FOUND: "check the cable and the path (omo-edge doctor lists input devices)",
          UnavailableReason.PERMISSION: "give the scanner to group omo-edge with a udev rule in "
                                        "/etc/udev/rules.d/99-omo-edge-local.rules (docs/operations/udev.md)",
          UnavailableReason.BUSY: "another program grabbed the scanner (a desktop session, evtest --grab); stop it",
          UnavailableReason.FAILED: "is this an input event device? use /dev/input/by-id/...-event-kbd"}


def grab(fd: int) -> None:
    """Take the device exclusively (EVIOCGRAB); the kernel then sends its events only to this fd."""
    fcntl.ioctl(fd, EVIOCGRAB, 1)


def caps_lock_on(fd: int) -> bool:
    """Caps lock may already be on when we open the device; letters would come out in the wrong case."""
    leds = bytearray(8)
    try:
        fcntl.ioctl(fd, EVIOCGLED, leds)
    except OSError:
        return False   # not an evdev node (the simulator's pty): caps starts off
    return bool(leds[0] & 0b10)


class HidScanner:
    """One keyboard-wedge scanner; `async with` opens and grabs it, `scans()` yields codes ended by Enter."""


    def __init__(self, name: str, options: Mapping[str, object]) -> None:
        o = Options("hid", options)
        self.name = name
        self.path = o.text("path")
        self.layout = o.choice("layout", "us", sorted(layouts.LAYOUTS))
        self.inter_key_s = o.integer("inter_key_ms", 100, 5, 5000) / 1000
        self.grab = o.flag("grab", True)
        self.bounce_s = o.integer("bounce_ms", 300, 0, 60_000) / 1000
        o.finish()
        self._counters: Counter[str] = Counter()
        self._decoders = self._new_decoders()
        self._fd: int | None = None
        self._bytes = EventDecoder()
        self._queue: ScanQueue | None = None
        self.layout_hint = ""

    def _new_decoders(self) -> tuple[WedgeDecoder, WedgeDecoder | None]:
        shadow = WedgeDecoder("us", self.inter_key_s) if self.layout != "us" else None
        return WedgeDecoder(self.layout, self.inter_key_s), shadow

    async def __aenter__(self) -> Self:
        try:
            fd = os.open(os.path.realpath(self.path),  # noqa: ASYNC240 - no I/O wait
                          os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        except OSError as exc:
            raise self._error(_OPEN_REASONS.get(exc.errno or 0, UnavailableReason.FAILED), exc) from exc
        try:
            if self.grab:
                grab(fd)
        except OSError as exc:
            os.close(fd)
            reason = UnavailableReason.BUSY if exc.errno == errno.EBUSY else UnavailableReason.FAILED
            raise self._error(reason, exc) from exc
        self._fd, self._bytes = fd, EventDecoder()
        self._counters.update({FAILED: 0})
        self._decoders = self._carry(self._decoders)
        for decoder in self._decoders:
            if decoder is not None:
                decoder.keys.state.caps = caps_lock_on(fd)
        self._queue = ScanQueue(self.name, self._counters, bounce_s=self.bounce_s)
        asyncio.get_running_loop().add_reader(fd, self._readable)
        return self

    def _carry(self, old: tuple[WedgeDecoder, WedgeDecoder | None]) -> tuple[WedgeDecoder, WedgeDecoder | None]:
        """Fresh key state for a fresh open (no stuck shift), keeping the drop counts."""
        new = self._new_decoders()
        for attr in ("dropped_gap", "dropped_overrun", "dropped_too_long"):
            setattr(new[0], attr, getattr(old[0], attr))
        return new

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._fd is not None:
            asyncio.get_running_loop().remove_reader(self._fd)
            os.close(self._fd)   # closing releases the grab
            self._fd = None

    def scans(self) -> AsyncIterator[ScanEvent]:
        if self._queue is None:
            raise RuntimeError("open the scanner first: async with HidScanner(...) as scanner")
        return self._queue.events()

    def counters(self) -> Mapping[str, int]:
        d = self._decoders[0]
        return snapshot(self._counters, {FAILED: d.dropped_gap + d.dropped_overrun + d.dropped_too_long,
                                         "partial_gap_count": d.dropped_gap, "overrun_count": d.dropped_overrun,
                                         MISMATCH: self._counters[MISMATCH]})

    def details(self) -> Mapping[str, object]:
        return {"path": self.path, "layout": self.layout, **({"hint": self.layout_hint} if self.layout_hint else {})}

    def _readable(self) -> None:
        assert self._fd is not None and self._queue is not None
        try:
            data = os.read(self._fd, 24 * 256)
        except BlockingIOError:
            return
        except OSError as exc:
            return self._unplugged(os.strerror(exc.errno or 0))
        if not data:
            return self._unplugged("end of file")
        now = time.monotonic()
        decoder, shadow = self._decoders
        for ev in self._bytes.feed(data):
            code = decoder.event(ev)
            us_code = shadow.event(ev) if shadow is not None else None
            if code is not None:
                self._check_layout(code, us_code)
                raw = code.encode("utf-8")
                aim, payload = split_aim(raw)   # a wedge may be set to send AIM identifiers too
                self._queue.offer(payload, raw, aim=aim, at=now)

    def _check_layout(self, code: str, us_code: str | None) -> None:
        """A code that fails its check digit here but passes under `us`: the scanner types a US layout."""
        if us_code is None or gtin_check_ok(code) or not gtin_check_ok(us_code):
            return
        self._counters[MISMATCH] += 1
        self.layout_hint = (f"codes decode as valid GTINs under layout \"us\", not {self.layout!r}: set "
                            f"layout = \"us\" for this device, or set the scanner's keyboard country to {self.layout}")

    def _unplugged(self, cause: str) -> None:
        assert self._fd is not None and self._queue is not None
        asyncio.get_running_loop().remove_reader(self._fd)
        self._queue.fail(DeviceUnavailable(UnavailableReason.UNPLUGGED,
                                           f"scanner {self.name!r} at {self.path} went away ({cause}). "
                                           "Fix: plug it back in; the agent reopens it by itself"))

    def _error(self, reason: UnavailableReason, exc: OSError) -> DeviceUnavailable:
        return DeviceUnavailable(reason, f"scanner {self.name!r}: cannot open {self.path} "
                                         f"({exc.strerror or exc}). Fix: {_FIXES[reason]}")
