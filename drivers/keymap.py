"""Pure: key events plus modifier state to characters, and characters to whole codes (Enter terminates).

Handles shift, caps lock, AltGr, Ctrl+] (GS, the FNC1 separator some scanners send as a control key) and
Alt+numpad entry (Alt held, keypad digits, Alt released: `Alt+029` is GS). An inter-key gap longer than
`inter_key_s` means the partial code is not one scan (a person at a keyboard, a half-read code) and is
dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drivers import layouts as L
from drivers.evdev_codec import EV_KEY, EV_SYN, KEY_RELEASE, SYN_DROPPED, InputEvent

_CTRL_CHARS = "@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_"


@dataclass(slots=True)
class KeyState:
    """Which modifiers are down (caps lock is a toggle)."""

    shift: int = 0
    ctrl: int = 0
    alt: bool = False
    altgr: bool = False
    caps: bool = False
    numpad: str = ""


def layout_table(name: str) -> dict[int, L.KeyChars]:
    try:
        return L.LAYOUTS[name]
    except KeyError:
        raise ValueError(f"unknown keyboard layout {name!r}; known: {', '.join(sorted(L.LAYOUTS))}") from None


@dataclass(slots=True)
class KeyDecoder:
    """One key event at a time -> a character, or None (modifiers, unmapped keys, key releases)."""

    table: dict[int, L.KeyChars]
    altgr_is_alt: bool = False
    state: KeyState = field(default_factory=KeyState)

    def key(self, code: int, value: int) -> str | None:
        pressed = value != KEY_RELEASE
        s = self.state
        if code in (L.KEY_LEFTSHIFT, L.KEY_RIGHTSHIFT):
            s.shift = max(0, s.shift + (1 if value == 1 else -1 if value == 0 else 0))
        elif code in (L.KEY_LEFTCTRL, L.KEY_RIGHTCTRL):
            s.ctrl = max(0, s.ctrl + (1 if value == 1 else -1 if value == 0 else 0))
        elif code == L.KEY_LEFTALT or (code == L.KEY_RIGHTALT and self.altgr_is_alt):
            return self._alt(pressed)
        elif code == L.KEY_RIGHTALT:
            s.altgr = pressed
        elif code == L.KEY_CAPSLOCK:
            s.caps ^= value == 1
        elif pressed:
            return self._char(code)
        return None

    def _alt(self, pressed: bool) -> str | None:
        s = self.state
        s.alt = pressed
        if pressed or not s.numpad:
            s.numpad = ""
            return None
        digits, s.numpad = s.numpad, ""
        number = int(digits) % 256
        if number < 128:
            return chr(number)
        return bytes([number]).decode("cp1252" if digits.startswith("0") else "cp437", "replace")

    def _char(self, code: int) -> str | None:
        s = self.state
        if s.alt and code in L.KEYPAD_DIGITS:
            s.numpad = (s.numpad + str(L.KEYPAD_DIGITS[code]))[-4:]
            return None
        chars = self.table.get(code)
        if chars is None:
            return None
        plain, shifted, altgr = chars
        if s.ctrl:
            base = (altgr if s.altgr else plain).upper()
            return chr(_CTRL_CHARS.index(base)) if base and base in _CTRL_CHARS else None
        if s.altgr:
            return altgr or None
        upper = bool(s.shift) ^ (s.caps and plain.isalpha())
        return (shifted if upper else plain) or None


@dataclass(slots=True)
class WedgeDecoder:
    """Key events -> whole codes; Enter ends a code, a long gap or a kernel overrun drops the partial one."""

    layout: str = "us"
    inter_key_s: float = 0.1
    max_length: int = 4096
    keys: KeyDecoder = field(init=False)
    dropped_gap: int = 0
    dropped_overrun: int = 0
    dropped_too_long: int = 0
    _line: list[str] = field(default_factory=list)
    _last_key_at: float | None = None
    _overlong: bool = False

    def __post_init__(self) -> None:
        self.keys = KeyDecoder(layout_table(self.layout), altgr_is_alt=not any(c[2] for c in
                                                                              layout_table(self.layout).values()))

    def event(self, ev: InputEvent) -> str | None:
        """Feed one input event; returns a completed code (without the Enter) or None."""
        if ev.type == EV_SYN and ev.code == SYN_DROPPED:
            self._drop("overrun")      # the kernel lost events: what we hold is not a trustworthy code
            return None
        if ev.type != EV_KEY:
            return None
        if ev.value != KEY_RELEASE:
            last = self._last_key_at
            if (self._line or self._overlong) and last is not None and ev.time - last > self.inter_key_s:
                self._drop("gap")
            self._last_key_at = ev.time
        if ev.code in (L.KEY_ENTER, L.KEY_KPENTER):
            return self._enter(ev.value)
        char = self.keys.key(ev.code, ev.value)
        if char is not None:
            self._append(char)
        return None

    def _enter(self, value: int) -> str | None:
        if value != 1:
            return None
        line, self._line, overlong, self._overlong = "".join(self._line), [], self._overlong, False
        return line if line and not overlong else None

    def _append(self, char: str) -> None:
        if self._overlong:
            return
        if len(self._line) >= self.max_length:
            self._drop("too_long")
            self._overlong = True   # the rest of this line up to Enter is dropped too
            return
        self._line.append(char)

    def _drop(self, why: str) -> None:
        if not self._line:
            self._overlong = False
            return
        self._line = []
        if why == "gap":
            self.dropped_gap += 1
        elif why == "overrun":
            self.dropped_overrun += 1
        else:
            self.dropped_too_long += 1
