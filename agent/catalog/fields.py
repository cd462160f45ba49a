"""Checked reads of catalog line fields; every refusal names the line, the field and the fix.

Why so strict: the catalog is money. A float price, a boolean written as a string or a list written as a
string used to be read loosely and priced wrongly (a `min_spend` of 5000.0 ignored, `"false"` taken as true,
a GTIN string iterated as characters). Refusing the line at import, with the fix, lets the cloud team
correct the record before any lane sells with it.
"""

from __future__ import annotations

import difflib
import re
from datetime import datetime
from typing import Any

from agent.catalog.rates import RATE, canonical_rate
from agent.errors import AgentError

ID_PATTERN = re.compile(r"[\x21-\x7e]{1,128}")
DIGITS = re.compile(r"\d{8}|\d{12,14}")
LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")     # BCP 47 style: "ja", "en", "zh-Hant"


class CatalogLineError(AgentError):
    """A catalog line (or the file as a whole) is not valid; `line` is 1-based, 0 for the whole file.

    `problem` is the message without the line number ("field: what is wrong. Fix: what to write"), so the
    load worker can hand it to the agent and the agent rebuild the same error.
    """

    def __init__(self, line: int, problem: str) -> None:
        self.line = line
        self.problem = problem
        where = f"line {line}: " if line else ""
        super().__init__(f"{where}{problem}")


def refuse(line: int, field: str, problem: str, fix: str) -> CatalogLineError:
    """The error for one field, in the config errors' style: where, what is wrong, and the fix."""
    return CatalogLineError(line, f"{field}: {problem}. Fix: {fix}")


def _int_fix(value: object) -> str:
    if type(value) is float and value.is_integer():
        return f"write {int(value)}, without a decimal point"
    if type(value) is str and value.strip().lstrip("-").isdigit():
        return f"write {value.strip()} without quotes"
    return "write a whole number (money in minor units, e.g. 150 for 150 yen)"


def gtin14(value: object, line: int, field: str = "gtin") -> str:
    """A GTIN-8/12/13/14 with a valid check digit, zero-padded to GTIN-14 (the stored form)."""
    if type(value) is not str or not (len(value) == 14 and value.isascii() and value.isdigit()
                                      or DIGITS.fullmatch(value)):
        raise refuse(line, field, f"must be a string of 8, 12, 13 or 14 digits, got {value!r}",
                     'write the GTIN as a JSON string of ASCII digits, e.g. "4901234567894"')
    code = value.zfill(14).encode()
    odd = sum(code[0:13:2]) - 48 * 7     # positions weighted 3 (counting from the left of GTIN-14)
    even = sum(code[1:13:2]) - 48 * 6
    expected = (10 - (3 * odd + even) % 10) % 10
    if expected != code[13] - 48:
        raise refuse(line, field, f"{value!r} has a wrong check digit",
                     f"correct the code: its last digit should be {expected} if the others are right")
    return code.decode()


def gtin_list(value: object, line: int, field: str) -> list[str]:
    """A non-empty JSON list of GTIN strings, as GTIN-14, duplicates dropped (never a string's characters)."""
    if type(value) is not list or not value:
        raise refuse(line, field, f"must be a non-empty list of GTIN strings, got {value!r}",
                     'write a list, e.g. ["4901234567894"], even for one GTIN')
    return list(dict.fromkeys(gtin14(code, line, f"{field}[{n}]") for n, code in enumerate(value)))


def text_list(value: object, line: int, field: str) -> list[str]:
    """A non-empty JSON list of non-empty strings (departments)."""
    if type(value) is not list or not value or not all(type(v) is str and v.strip() for v in value):
        raise refuse(line, field, f"must be a non-empty list of non-empty strings, got {value!r}",
                     'write a list, e.g. ["food"], even for one value')
    return list(dict.fromkeys(value))


def int_field(d: dict[str, Any], key: str, line: int, *, required: bool = False, low: int = 0,
              field: str | None = None) -> int | None:
    """An integer >= `low` (money is minor units: 5000.0 and "5000" are refused, never guessed)."""
    value = d.get(key)
    if value is None:
        if required:
            raise refuse(line, field or key, "is required", f"add {key} (a whole number >= {low})")
        return None
    if type(value) is not int or value < low:
        fix = _int_fix(value) if type(value) is not int else f"write a whole number >= {low}"
        raise refuse(line, field or key, f"must be a whole number >= {low}, got {value!r}", fix)
    return value


def req_int(d: dict[str, Any], key: str, line: int, low: int = 0) -> int:
    value = int_field(d, key, line, required=True, low=low)
    assert value is not None
    return value


def rate_field(d: dict[str, Any], key: str, line: int) -> str:
    """A required decimal rate from "0" to "1", in its canonical spelling ("0.1" and "0.10" are both "0.10")."""
    value = d.get(key)
    if type(value) is not str or not RATE.fullmatch(value):
        raise refuse(line, key, f'must be a decimal string from "0" to "1" with at most 6 decimals, got {value!r}',
                     'write the rate as a JSON string, e.g. "0.08" or "0.10"')
    return canonical_rate(value)


def str_field(d: dict[str, Any], key: str, line: int, *, required: bool = True,
              pattern: re.Pattern[str] = ID_PATTERN) -> Any:
    value = d.get(key)
    if value is None and not required:
        return None
    if type(value) is not str or not pattern.fullmatch(value):
        what = "is required" if value is None else f"must be a string matching {pattern.pattern}, got {value!r}"
        raise refuse(line, key, what, "write 1 to 128 printable ASCII characters without spaces"
                     if pattern is ID_PATTERN else f"write a string matching {pattern.pattern}")
    return value


def text_field(d: dict[str, Any], key: str, line: int, *, required: bool = True) -> Any:
    value = d.get(key)
    if value is None and not required:
        return None
    if type(value) is not str or not value.strip() or len(value) > 1000:
        raise refuse(line, key, f"must be a non-empty string, got {value!r}",
                     "write a JSON string of 1 to 1000 characters")
    return value


def bool_field(d: dict[str, Any], key: str, line: int, *, field: str | None = None) -> int:
    value = d.get(key, False)
    if type(value) is not bool:
        fix = (f"write {value.strip().lower()} without quotes" if type(value) is str
               and value.strip().lower() in ("true", "false") else "write true or false")
        raise refuse(line, field or key, f"must be true or false, got {value!r}", fix)
    return int(value)


def names_field(d: dict[str, Any], line: int) -> dict[str, str] | None:
    """`names`: the product's name per language, {"ja": "緑茶", "en": "Green tea"}; absent is None."""
    value = d.get("names")
    if value is None:
        return None
    fix = 'write an object of language code to name, e.g. {"ja": "緑茶 500ml", "en": "Green tea 500ml"}'
    if type(value) is not dict or not value:
        raise refuse(line, "names", f"must be a non-empty object, got {value!r}", fix)
    for language, name in value.items():
        if not LANGUAGE.fullmatch(language):
            raise refuse(line, "names", f"{language!r} is not a language code", fix)
        if type(name) is not str or not name.strip() or len(name) > 1000:
            raise refuse(line, f"names.{language}", f"must be a non-empty string, got {name!r}", fix)
    return value


def time_field(d: dict[str, Any], key: str, line: int) -> int | None:
    """RFC 3339 with an offset -> UTC epoch seconds; absent means open-ended."""
    value = d.get(key)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if type(value) is str else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise refuse(line, key, f"must be an RFC 3339 time with an offset, got {value!r}",
                     'write e.g. "2026-12-01T00:00:00+09:00" or "2026-12-01T00:00:00Z"')
    return int(moment.timestamp())


def window(d: dict[str, Any], line: int) -> tuple[int | None, int | None]:
    start, end = time_field(d, "from", line), time_field(d, "to", line)
    if start is not None and end is not None and end <= start:
        raise refuse(line, "to", "must be after 'from'", "give a 'to' later than 'from', or leave it out")
    return start, end


def known_fields(d: dict[str, Any], allowed: frozenset[str], line: int, what: str, prefix: str = "") -> None:
    """Refuse a field the schema does not know: a typo ("tax" for "tax_rate") must not be silently dropped."""
    unknown = [key for key in d if key not in allowed]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), allowed, n=1, cutoff=0.5)
        hint = f"if you meant {close[0]!r}, rename it; otherwise remove it" if close else "remove it"
        raise refuse(line, f"{prefix}{unknown[0]}", f"is not a field of {what}",
                     f"{hint} (known: {', '.join(sorted(allowed))}; docs/catalog.md). A field the cloud added "
                     "needs an agent that knows it")
