"""Defaults quoted outside docs/config.md say what docs/config.md says (which
tests/config/test_config_reference.py holds to the parser's own defaults): the key tables of catalog.md,
interpretation.md and drivers.md, and a default quoted in running text as "`[section] key` (value)" on any page.
A default changed in the code then fails here for every page that repeats it, not only for the reference.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from agent.catalog.records import OfflinePolicy

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
REFERENCE = DOCS / "config.md"
ROW = re.compile(r"^\| `([a-z_0-9]+)`(?:, `[a-z_0-9]+`)* \| (.+)$")
REQUIRED = "required"
EMPTY = "empty"


class Words(str):
    """A default cell in words ("the camera's own", "nine common stand-ins"): not compared."""

# (page, the heading over its table) -> the docs/config.md heading of the same section
TABLES = {
    ("catalog.md", "Pulls, health, config"): "`[catalog]`",
    ("interpretation.md", "Config: `[interpret]`"): "`[interpret]`",
    ("drivers.md", "serial"): '`[[devices]] driver = "serial"`',
    ("drivers.md", "hid (keyboard wedge)"): '`[[devices]] driver = "hid"`',
    ("drivers.md", "camera"): '`[[devices]] driver = "camera"`',
}


def tables(text: str, default_column: int) -> dict[str, dict[str, str]]:
    """Heading -> key -> its default cell, for every `| \\`key\\` | ... |` row under a `##`/`###` heading."""
    found: dict[str, dict[str, str]] = {}
    rows: dict[str, str] | None = None
    for line in text.splitlines():
        heading = re.match(r"^#{2,3} (.+)$", line)
        if heading:
            rows = found.setdefault(heading.group(1).strip(), {})
        elif (row := ROW.match(line)) and rows is not None:
            rows[row.group(1)] = re.split(r"(?<!\\)\|", row.group(2))[default_column].strip()
    return found


def value(cell: str) -> Any:
    """A default cell as a value: a TOML literal (in backticks or bare; a backticked bare word is a string), a
    list of bare words, `required`, or EMPTY for none and `[]`; anything else is Words."""
    text = cell.strip().strip("()")
    backticked = text.startswith("`") and text.endswith("`") and text.count("`") == 2
    if backticked:
        text = text[1:-1]
    if text == REQUIRED:
        return REQUIRED
    if text in ("none", "[]", '""'):
        return EMPTY
    literal = text.replace("\\|", "|")
    try:
        parsed = tomllib.loads(f"v = {literal}")["v"]
    except tomllib.TOMLDecodeError:
        words = text.replace(" and ", ", ")
        if re.fullmatch(r"[a-z0-9-]+(, [a-z0-9-]+)+", words):
            return words.split(", ")
        return text if backticked else Words(text)
    return EMPTY if parsed in ([], "") else parsed


REFERENCE_DEFAULTS = tables(REFERENCE.read_text(), 1)


@pytest.mark.parametrize(("page", "heading"), sorted(TABLES))
def test_a_key_table_outside_config_md_quotes_the_reference_defaults(page: str, heading: str) -> None:
    rows = tables((DOCS / page).read_text(), 0).get(heading)
    assert rows, f"docs/{page} has no key table under '{heading}'"
    reference = REFERENCE_DEFAULTS[TABLES[page, heading]]
    for key, cell in rows.items():
        assert key in reference, f"docs/{page} documents `{key}`, which [{heading}] does not have"
        quoted, expected = value(cell), value(reference[key])
        if isinstance(quoted, Words) or isinstance(expected, Words):
            continue    # words, not a value: "the camera's own" (width 0), "whole frame" (no roi)
        assert quoted == expected, f"docs/{page} `{key}`: {cell!r}, but docs/config.md says {reference[key]!r}"


def test_the_offline_policy_table_quotes_the_code_defaults() -> None:
    rows = tables((DOCS / "catalog.md").read_text(), 0)["Offline policy"]
    defaults = OfflinePolicy()
    assert {key: value(cell) for key, cell in rows.items()} == \
        {key: list(v) if isinstance(v := getattr(defaults, key), tuple) else v for key in rows}


UNITS = {"s": 1, "second": 1, "seconds": 1, "minute": 60, "minutes": 60, "hour": 3600, "hours": 3600,
         "day": 86400, "days": 86400, "MB": 1}
QUOTE = re.compile(r"`\[([a-z_.]+)\] ([a-z_]+)`\s+\(([^)]*)\)")


def quoted_default(text: str) -> Any:
    """The default in "(120 s)", "(default 300 s)", "(5 minutes)", "(`/var/lib/omo-edge`)", "("ja" by default)";
    None when the parenthesis says something else ("(it validates them at `config check`)")."""
    if not (re.match(r'[\d`"]', text) or "default" in text):
        return None
    literal = re.search(r'`([^`]+)`|("[^"]*")', text)
    number = re.search(r"(\d+(?:\.\d+)?) ?(s|seconds?|minutes?|hours?|days?|MB)?\b", text)
    if literal and (number is None or literal.start() < number.start()):
        return value(literal.group(0))
    if number is None:
        return None
    amount = float(number.group(1)) * UNITS.get(number.group(2) or "", 1)
    return int(amount) if amount.is_integer() else amount


def quotes() -> list[tuple[str, str, str, str]]:
    """(page, section, key, what the parenthesis says) for every "`[section] key` (...)" outside config.md."""
    pages = [p for p in sorted(DOCS.rglob("*.md")) if p != REFERENCE] + [ROOT / "README.md"]
    return [(str(p.relative_to(ROOT)), m.group(1), m.group(2), " ".join(m.group(3).split()))
            for p in pages for m in QUOTE.finditer(p.read_text())]


def test_running_text_quotes_defaults_as_the_reference_gives_them() -> None:
    checked = 0
    for page, section, key, text in quotes():
        if quoted_default(text) is None:
            continue    # not a value: "(events per second)"
        reference = REFERENCE_DEFAULTS.get(f"`[{section}]`", {})
        assert key in reference, f"{page}: `[{section}] {key}` is not a key of docs/config.md"
        expected, quoted = value(reference[key]), quoted_default(text)
        assert quoted == expected, f"{page}: `[{section}] {key}` ({text}), but docs/config.md says {reference[key]!r}"
        checked += 1
    assert checked >= 8, "the quotes this test exists for"
