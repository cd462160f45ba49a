"""docs/config.md stays true: every key the parser reads is in it, with its type and default, and nothing else is.

The keys come from the parser itself, not from a list kept by hand: a config with every section (and one of
each sub-table and device driver) is parsed while the typed reads of `agent.config_table.Table` and
`drivers.options.Options` are recorded. Keys left out of that config are read with their defaults, which is
what the doc's default column must say. (tests/repo/test_docs.py checks config/agent.example.toml; this checks the
reference.)
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent import config as config_module
from agent.config_table import REQUIRED, Table
from drivers import options as driver_options
from drivers.options import Options

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "config.md"

# Every optional section present with its required keys only, one of each sub-table, one of each driver.
EXERCISE = """
[agent]
store_id = "store-001"
lane_id = "lane-01"
[mqtt]
host = "broker.example"
[api]
[catalog]
url = "https://cloud.example/catalog"
[trust]
[payment]
[session]
[points]
[pickup]
[attendant]
[interpret]
[[interpret.rcn]]
name = "deli"
prefixes = ["21"]
pattern = "PPIIIIIQVVVVC"
[[interpret.member_cards]]
name = "old-card"
prefixes = ["29"]
lengths = [13]
[[interpret.payment_codes]]
name = "wallet"
prefixes = ["25"]
lengths = [18]
[[devices]]
name = "handheld"
driver = "serial"
port = "/dev/ttyACM0"
[[devices]]
name = "wedge"
driver = "hid"
path = "/dev/input/event0"
[[devices]]
name = "overhead"
driver = "camera"
source = "/dev/video0"
"""

# How the parser names what it expects (its error messages) -> the doc's type column.
TYPES = {"a string": "string", "an integer": "integer", "a number": "number", "true or false": "boolean",
         "a path string": "path", "a list of path strings": "list of paths", "a list of strings": "list of strings",
         "a list of integers": "list of integers", "a list of 4 integers": "list of 4 integers",
         "an inline table { name = value, ... }": "table", "source": "string or integer"}


@dataclass(frozen=True)
class Read:
    default: Any
    type: str


def section_name(label: str) -> str:
    """The doc's heading for a Table's label or a driver's name."""
    if label.startswith(("device ", "devices #")):
        return "[[devices]]"
    if label in ("serial", "hid", "camera"):
        return f'[[devices]] driver = "{label}"'
    if label.startswith("interpret."):
        return f"[[{label.split(' #')[0]}]]"
    return f"[{label}]"


@pytest.fixture(scope="module")
def parsed() -> dict[str, dict[str, Read]]:
    """Section -> key -> what the parser read for it (its default, and the type it expects)."""
    reads: dict[str, dict[str, Read]] = {}
    table_get, options_get, options_raw = Table._get, Options._get, Options.raw

    def record(section: str, key: str, default: Any, expected: str) -> None:
        kind = "array of tables" if expected.startswith("an array of tables") else TYPES[expected]
        reads.setdefault(section_name(section), {})[key] = Read(default, kind)

    def on_table(self: Table, key: str, default: Any, kind: Any, expected: str) -> Any:
        record(self.label, key, default, expected)
        return table_get(self, key, default, kind, expected)

    def on_options(self: Options, key: str, default: Any, kinds: Any, expected: str) -> Any:
        record(self._driver, key, REQUIRED if default is driver_options._REQUIRED else default, expected)
        return options_get(self, key, default, kinds, expected)

    def on_raw(self: Options, key: str, default: object) -> object:
        record(self._driver, key, REQUIRED if default is None else default, key)
        return options_raw(self, key, default)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Table, "_get", on_table)
        patch.setattr(Options, "_get", on_options)
        patch.setattr(Options, "raw", on_raw)
        config_module.parse(tomllib.loads(EXERCISE), Path("exercise.toml"))
    return reads


def documented() -> dict[str, dict[str, tuple[str, str]]]:
    """Section heading -> key -> (type, default) from the tables of docs/config.md."""
    sections: dict[str, dict[str, tuple[str, str]]] = {}
    current: dict[str, tuple[str, str]] | None = None
    for line in REFERENCE.read_text().splitlines():
        heading = re.match(r"^#{2,3} `(\[[^`]+)`", line)
        if heading:
            current = sections.setdefault(heading.group(1), {})
            continue
        row = re.match(r"^\| `([a-z_0-9]+)` \| ([^|]+) \| ([^|]+) \|", line)
        if row and current is not None:
            current[row.group(1)] = (row.group(2).strip(), row.group(3).strip())
    return sections


def test_every_section_the_parser_reads_has_a_table_and_every_table_is_a_section(
        parsed: dict[str, dict[str, Read]]) -> None:
    assert sorted(documented()) == sorted(parsed)
    for section in config_module.SECTIONS:
        assert any(heading.startswith((f"[{section}]", f"[[{section}]]")) for heading in documented()), section


def test_every_key_the_parser_reads_is_documented_and_every_documented_key_is_read(
        parsed: dict[str, dict[str, Read]]) -> None:
    doc = documented()
    for section, keys in parsed.items():
        assert sorted(doc.get(section, {})) == sorted(keys), f"{section} in docs/config.md"


def test_each_documented_type_is_the_type_the_parser_expects(parsed: dict[str, dict[str, Read]]) -> None:
    doc = documented()
    for section, keys in parsed.items():
        for key, read in keys.items():
            assert doc[section][key][0] == read.type, f"{section} {key}: the parser expects {read.type}"


def literal(cell: str) -> tuple[bool, Any]:
    """A default cell that is one TOML value in backticks, parsed; (False, None) for words."""
    match = re.fullmatch(r"`(.+)`", cell)
    if match is None:
        return False, None
    try:
        return True, tomllib.loads(f"v = {match.group(1)}")["v"]
    except tomllib.TOMLDecodeError:
        return False, None


def comparable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [comparable(v) for v in value]
    return value


def test_each_documented_default_is_the_default_the_parser_uses(parsed: dict[str, dict[str, Read]]) -> None:
    doc, checked = documented(), 0
    for section, keys in parsed.items():
        for key, read in keys.items():
            cell = doc[section][key][1]
            if cell == "required":   # also lists read as empty and then refused empty (an RCN's prefixes)
                assert read.default is REQUIRED or read.default == [], f"{section} {key} has a default"
                continue
            assert read.default is not REQUIRED, f"{section} {key} is required; the doc says {cell!r}"
            is_literal, value = literal(cell)
            if is_literal:
                assert value == comparable(read.default), f"{section} {key}: the parser's default is {read.default!r}"
                checked += 1
            elif read.default is None:
                assert cell.startswith("none"), f"{section} {key} has no default; the doc says {cell!r}"
    assert checked > 80   # all but a few defaults are plain values the doc can show as they are
