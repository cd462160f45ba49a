"""Checked reads of catalog line fields; every refusal names the line so the cloud team can find the record."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from agent.catalog.rates import RATE, canonical_rate
from agent.errors import AgentError

ID_PATTERN = re.compile(r"[\x21-\x7e]{1,128}")
DIGITS = re.compile(r"\d{8}|\d{12,14}")


class CatalogLineError(AgentError):
    """A catalog line (or the file as a whole) is not valid; `line` is 1-based, 0 for the whole file."""

    def __init__(self, line: int, problem: str) -> None:
        self.line = line
        self.problem = problem
        where = f"line {line}: " if line else ""
        super().__init__(f"{where}{problem}")


def gtin14(value: object, line: int, field: str = "gtin") -> str:
    """A GTIN-8/12/13/14 with a valid check digit, zero-padded to GTIN-14 (the stored form)."""
    if type(value) is not str or not (len(value) == 14 and value.isascii() and value.isdigit()
                                      or DIGITS.fullmatch(value)):
        raise CatalogLineError(line, f"{field} must be a string of 8, 12, 13 or 14 digits, got {value!r}")
    code = value.zfill(14).encode()
    odd = sum(code[0:13:2]) - 48 * 7     # positions weighted 3 (counting from the left of GTIN-14)
    even = sum(code[1:13:2]) - 48 * 6
    if (10 - (3 * odd + even) % 10) % 10 != code[13] - 48:
        raise CatalogLineError(line, f"{field} {value!r} has a wrong check digit")
    return code.decode()


def rate_field(d: dict[str, Any], key: str, line: int) -> str:
    """A required decimal rate from "0" to "1", in its canonical spelling ("0.1" and "0.10" are both "0.10")."""
    value = d.get(key)
    if type(value) is not str or not RATE.fullmatch(value):
        raise CatalogLineError(line, f"{key} must be a decimal string from \"0\" to \"1\" (\"0.08\", \"0.10\"), "
                                     f"got {value!r}")
    return canonical_rate(value)


def int_field(d: dict[str, Any], key: str, line: int, *, required: bool = False, low: int = 0) -> int | None:
    value = d.get(key)
    if value is None:
        if required:
            raise CatalogLineError(line, f"{key} is required")
        return None
    if type(value) is not int or value < low:
        raise CatalogLineError(line, f"{key} must be an integer >= {low}, got {value!r}")
    return value


def req_int(d: dict[str, Any], key: str, line: int, low: int = 0) -> int:
    value = int_field(d, key, line, required=True, low=low)
    assert value is not None
    return value


def str_field(d: dict[str, Any], key: str, line: int, *, required: bool = True,
              pattern: re.Pattern[str] = ID_PATTERN) -> Any:
    value = d.get(key)
    if value is None and not required:
        return None
    if type(value) is not str or not pattern.fullmatch(value):
        raise CatalogLineError(line, f"{key} must be a string matching {pattern.pattern}, got {value!r}")
    return value


def text_field(d: dict[str, Any], key: str, line: int, *, required: bool = True) -> Any:
    value = d.get(key)
    if value is None and not required:
        return None
    if type(value) is not str or not value.strip() or len(value) > 1000:
        raise CatalogLineError(line, f"{key} must be a non-empty string, got {value!r}")
    return value


def bool_field(d: dict[str, Any], key: str, line: int) -> int:
    value = d.get(key, False)
    if type(value) is not bool:
        raise CatalogLineError(line, f"{key} must be true or false, got {value!r}")
    return int(value)


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
        raise CatalogLineError(line, f"{key} must be an RFC 3339 time with an offset, got {value!r}")
    return int(moment.timestamp())


def window(d: dict[str, Any], line: int) -> tuple[int | None, int | None]:
    start, end = time_field(d, "from", line), time_field(d, "to", line)
    if start is not None and end is not None and end <= start:
        raise CatalogLineError(line, "'to' must be after 'from'")
    return start, end
