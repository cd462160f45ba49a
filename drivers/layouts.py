"""Keyboard layouts as data: Linux key code -> (plain, shift, altgr) characters, per host layout.

A keyboard-wedge scanner "types" each code as key presses for the layout it is configured for; the agent
must decode with the same layout. Codes are from linux/input-event-codes.h. Letters are listed once in
lower case; caps lock and shift make them upper case. Keys not listed produce nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

KeyChars = tuple[str, str, str]   # plain, with shift, with AltGr ("" = nothing)

KEY_ENTER, KEY_KPENTER = 28, 96
KEY_LEFTSHIFT, KEY_RIGHTSHIFT, KEY_CAPSLOCK = 42, 54, 58
KEY_LEFTCTRL, KEY_RIGHTCTRL, KEY_LEFTALT, KEY_RIGHTALT = 29, 97, 56, 100
# Keypad digits, for Alt+numpad character entry (Alt held, type the decimal code, release Alt).
KEYPAD_DIGITS = {82: 0, 79: 1, 80: 2, 81: 3, 75: 4, 76: 5, 77: 6, 71: 7, 72: 8, 73: 9}
_KEYPAD_CHARS = {55: "*", 74: "-", 78: "+", 83: ".", 98: "/"}

_LETTERS = {16: "q", 17: "w", 18: "e", 19: "r", 20: "t", 21: "y", 22: "u", 23: "i", 24: "o", 25: "p",
            30: "a", 31: "s", 32: "d", 33: "f", 34: "g", 35: "h", 36: "j", 37: "k", 38: "l",
            44: "z", 45: "x", 46: "c", 47: "v", 48: "b", 49: "n", 50: "m"}
_DIGIT_KEYS = (11, 2, 3, 4, 5, 6, 7, 8, 9, 10)   # KEY_0, KEY_1 ... KEY_9


def _table(digit_row: str, punctuation: Mapping[int, str], letters: Mapping[int, str] = _LETTERS,
           altgr: Mapping[int, str] | None = None) -> dict[int, KeyChars]:
    """`digit_row` lists plain+shift pairs for keys 1..9, 0 (a space for "types nothing")."""
    table: dict[int, KeyChars] = {}
    for key, letter in letters.items():
        table[key] = (letter, letter.upper(), "")
    pairs = [digit_row[i:i + 2] for i in range(0, 20, 2)]
    for key, pair in zip((*_DIGIT_KEYS[1:], _DIGIT_KEYS[0]), pairs, strict=True):
        table[key] = (pair[0].strip(), pair[1].strip(), "")
    for key, chars in punctuation.items():
        table[key] = (chars[0].strip(), chars[1].strip(), "")
    table[57] = (" ", " ", "")
    for key, digit in KEYPAD_DIGITS.items():
        table[key] = (str(digit), str(digit), "")
    for key, char in _KEYPAD_CHARS.items():
        table[key] = (char, char, "")
    for key, char in (altgr or {}).items():
        plain, shift, _ = table.get(key, ("", "", ""))
        table[key] = (plain, shift, char)
    return table


US = _table("1!2@3#4$5%6^7&8*9(0)", {12: "-_", 13: "=+", 26: "[{", 27: "]}", 39: ";:", 40: "'\"", 41: "`~",
                                     43: "\\|", 51: ",<", 52: ".>", 53: "/?"})

# JIS 106/109: shifted digits and punctuation differ; KEY_GRAVE is Hankaku/Zenkaku and types nothing.
JP = _table("1!2\"3#4$5%6&7'8(9)0 ", {12: "-=", 13: "^~", 26: "@`", 27: "[{", 39: ";+", 40: ":*", 43: "]}",
                                      51: ",<", 52: ".>", 53: "/?", 89: "\\_", 124: "\\|"})

# German QWERTZ: Y and Z swapped, shifted digits and punctuation differ, AltGr gives @ [ ] { } \ ~ |.
DE = _table("1!2\"3§4$5%6&7/8(9)0=", {12: "ß?", 13: "´`", 26: "üÜ", 27: "+*", 39: "öÖ", 40: "äÄ", 41: "^°",
                                      43: "#'", 51: ",;", 52: ".:", 53: "-_", 86: "<>"},
            letters={**_LETTERS, 21: "z", 44: "y"},
            altgr={16: "@", 8: "{", 9: "[", 10: "]", 11: "}", 12: "\\", 27: "~", 86: "|", 18: "€"})

# French AZERTY: the digit row types symbols plain and digits with shift, a classic wedge mismatch.
_FR_LETTERS = {k: v for k, v in {**_LETTERS, 16: "a", 30: "q", 17: "z", 44: "w", 39: "m"}.items() if k != 50}
FR = _table("&1é2\"3'4(5-6è7_8ç9à0", {12: ")°", 13: "=+", 26: "^¨", 27: "$£", 40: "ù%", 41: "² ", 43: "*µ",
                                      50: ",?", 51: ";.", 52: ":/", 53: "!§", 86: "<>"},
            letters=_FR_LETTERS, altgr={11: "@", 3: "~", 4: "#", 5: "{", 6: "[", 7: "|", 9: "\\", 10: "^",
                                        12: "]", 13: "}"})

LAYOUTS: dict[str, dict[int, KeyChars]] = {"us": US, "jp": JP, "de": DE, "fr": FR}
