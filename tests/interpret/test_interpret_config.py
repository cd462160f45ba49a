"""The [interpret] section: defaults, custom templates and rules, and refusals that name the key and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent import config
from agent.config_table import Table
from agent.errors import ConfigError
from agent.interpret.rules import DEFAULT_PAYMENT_CODES, CodeRule, InterpretSection, parse_section


def section(**values: Any) -> InterpretSection:
    return parse_section(Table(values, "interpret", "agent.toml"))


def test_absent_section_gives_the_defaults() -> None:
    parsed = config.parse({"agent": {"store_id": "s", "lane_id": "l"}}, Path("agent.toml"), check_devices=False)
    assert parsed.interpret == InterpretSection()


def test_custom_rules_are_read() -> None:
    parsed = section(rcn_templates="gs1",
                     rcn=[{"name": "deli", "prefixes": ["21"], "pattern": "PPIIIIIQVVVVC", "measure": "weight"}],
                     member_cards=[{"name": "old", "prefixes": ["29"], "lengths": [13], "check": "gs1"}])
    assert parsed.rcn_templates == "gs1" and parsed.rcn[0].measure == "weight"
    assert parsed.member_cards == (CodeRule("old", ("29",), (13,), "gs1"),)
    assert parsed.payment_codes == DEFAULT_PAYMENT_CODES


def test_empty_payment_codes_turn_recognition_off() -> None:
    assert section(payment_codes=[]).payment_codes == ()


@pytest.mark.parametrize(("values", "key", "words"), [
    ({"rcn_templates": "fr"}, "rcn_templates", "not one of"),
    ({"colour": 1}, "colour", "unknown option"),
    ({"rcn": [{"name": "x", "prefixes": ["21"], "pattern": "PPIIIIIQVVVV"}]}, "pattern", "13 letters"),
    ({"rcn": [{"name": "x", "prefixes": ["45"], "pattern": "PPIIIIIVVVVVC"}]}, "pattern", "restricted"),
    ({"member_cards": [{"name": "x", "prefixes": ["2"], "lengths": []}]}, "lengths", "non-empty"),
    ({"payment_codes": [{"name": "x", "prefixes": ["2a"], "lengths": [18]}]}, "prefixes", "digit strings"),
    ({"payment_codes": [{"name": "x", "prefixes": ["25"], "lengths": [18], "check": "crc"}]}, "check", "not one of"),
    ({"gs_substitutes": ["~", ""]}, "gs_substitutes", "non-empty"),
    ({"unsynced_skew_s": -1}, "unsynced_skew_s", "out of range"),
])
def test_refusals_name_the_key_and_the_fix(values: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        section(**values)
    assert caught.value.key is not None and caught.value.key.endswith(key)
    assert words in str(caught.value) and "Fix:" in str(caught.value)
