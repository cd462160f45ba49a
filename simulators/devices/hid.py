"""VirtualKeyboardWedge: a keyboard-wedge scanner as raw `struct input_event` bytes on a pty, with key timing.

This machine has no /dev/uinput, so the simulator writes the bytes an evdev node would deliver into a pty;
the `sim+hid` driver is the real HidScanner opening that path without the grab ioctl (a pty cannot be
grabbed). Event timestamps follow a virtual clock, so gaps are exact and tests never sleep for them.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterable, Mapping

from drivers import layouts as L
from drivers.evdev_codec import SYN_DROPPED, InputEvent, encode, key_event, syn_event
from drivers.hid import HidScanner
from simulators.devices.pty_device import VirtualPtyDevice

KEY_RIGHTBRACE = 27


@functools.cache
def reverse_layout(layout: str) -> dict[str, tuple[int, str]]:
    """char -> (key code, "plain" | "shift" | "altgr"); the first key that types a char wins."""
    out: dict[str, tuple[int, str]] = {}
    for code, (plain, shifted, altgr) in sorted(L.LAYOUTS[layout].items()):
        if code in L.KEYPAD_DIGITS:
            continue   # scanners type digits on the main row
        for char, how in ((plain, "plain"), (shifted, "shift"), (altgr, "altgr")):
            if char and char not in out:
                out[char] = (code, how)
    return out


class VirtualKeyboardWedge(VirtualPtyDevice):
    """Types codes as a scanner set to `layout` would; knobs: inter-key time, pauses, overruns, GS style."""

    def __init__(self, name: str = "wedge", *, layout: str = "us", inter_key_ms: float = 2.0,
                 gs_mode: str = "ctrl", real_time: bool = False,
                 link_dir: str | os.PathLike[str] | None = None) -> None:
        super().__init__(name, link_dir)
        self.layout = layout
        self.inter_key_s = inter_key_ms / 1000
        self.gs_mode = gs_mode          # "ctrl": Ctrl+]; "alt": Alt + keypad 0 2 9
        self.real_time = real_time      # pace the writes in real time too (latency tests)
        self.clock = time.time()

    def type(self, code: str, *, enter: bool = True, inter_key_ms: float | None = None) -> None:
        """Type `code` (GS as 0x1D) followed by Enter."""
        step = self.inter_key_s if inter_key_ms is None else inter_key_ms / 1000
        events: list[tuple[int, int]] = []
        for char in code:
            events += strokes(char, self.layout, self.gs_mode)
        if enter:
            events += [(L.KEY_ENTER, 1), (L.KEY_ENTER, 0)]
        self.send_keys(events, step)

    def pause(self, ms: float) -> None:
        """Let time pass between keys, on the virtual clock only."""
        self.clock += ms / 1000

    def overrun(self) -> None:
        """The kernel's event buffer overflowed (SYN_DROPPED)."""
        self.write(encode(syn_event(self.clock, SYN_DROPPED)))

    def garbage(self, keys: str = "x7q") -> None:
        """Stray key presses with no Enter: a person leaning on a keyboard."""
        self.type(keys, enter=False)

    def send_keys(self, strokes: Iterable[tuple[int, int]], step_s: float) -> None:
        out = bytearray()
        for code, value in strokes:
            if value == 1:
                self.clock += step_s
            out += encode(key_event(self.clock, code, value)) + encode(syn_event(self.clock))
            if self.real_time:
                self.write(bytes(out))
                out.clear()
                time.sleep(step_s / 2)
        if out:
            self.write(bytes(out))


def strokes(char: str, layout: str, gs_mode: str = "ctrl") -> list[tuple[int, int]]:
    """(key code, value) presses and releases that type `char` on a wedge set to `layout`."""
    keys = reverse_layout(layout)
    if char == "\x1d":
        if gs_mode == "alt":
            return [(L.KEY_LEFTALT, 1), (82, 1), (82, 0), (80, 1), (80, 0), (73, 1), (73, 0), (L.KEY_LEFTALT, 0)]
        code, how = keys.get("]", (KEY_RIGHTBRACE, "plain"))
        ctrl = [(L.KEY_LEFTCTRL, 1), (code, 1), (code, 0), (L.KEY_LEFTCTRL, 0)]
        return [(L.KEY_RIGHTALT, 1), *ctrl, (L.KEY_RIGHTALT, 0)] if how == "altgr" else ctrl
    if char not in keys:
        raise ValueError(f"layout {layout!r} cannot type {char!r}")
    code, how = keys[char]
    modifier = {"shift": L.KEY_LEFTSHIFT, "altgr": L.KEY_RIGHTALT}.get(how)
    press = [(code, 1), (code, 0)]
    return [(modifier, 1), *press, (modifier, 0)] if modifier else press


def events_for(code: str, layout: str = "us", step_s: float = 0.002, start: float = 0.0) -> list[InputEvent]:
    """The input events a wedge set to `layout` sends for `code` + Enter (for pure tests, no pty)."""
    events, t = [], start
    for key, value in [*(k for c in code for k in strokes(c, layout)), (L.KEY_ENTER, 1), (L.KEY_ENTER, 0)]:
        t += step_s if value == 1 else 0
        events.append(key_event(t, key, value))
    return events


class SimHidScanner(HidScanner):
    """`sim+hid`: the real HID driver reading a VirtualKeyboardWedge's pty; it cannot grab a pty."""

    def __init__(self, name: str, options: Mapping[str, object]) -> None:
        super().__init__(name, {**options, "grab": False})
