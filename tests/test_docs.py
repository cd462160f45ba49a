"""Docs are tested: every config key is in the example config, every CLI command in the README."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from agent import config as config_module
from agent.api.settings import ApiSection
from agent.catalog.settings import CatalogSection
from agent.cli import build_parser
from agent.interpret.rules import InterpretSection, TrustSection
from agent.payment.settings import PaymentSection
from agent.session.settings import PickupSection, PointsSection, SessionSection
from agent.sync.settings import MqttSection

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = (ROOT / "config" / "agent.example.toml").read_text()
README = (ROOT / "README.md").read_text()

SECTION_CLASSES = {
    "agent": config_module.AgentSection, "mqtt": MqttSection, "api": ApiSection,
    "catalog": CatalogSection, "trust": TrustSection,
    "payment": PaymentSection, "interpret": InterpretSection,
    "session": SessionSection, "points": PointsSection,
    "pickup": PickupSection,
}


def example_section(name: str) -> str:
    match = re.search(rf"^\[{name}\][^\n]*\n(.*?)(?=^\[|\Z)", EXAMPLE, re.M | re.S)
    assert match, f"[{name}] is missing from config/agent.example.toml"
    return match.group(1)


@pytest.mark.parametrize("section", sorted(SECTION_CLASSES))
def test_every_config_key_is_documented_in_the_example(section: str) -> None:
    body = example_section(section)
    for field in dataclasses.fields(SECTION_CLASSES[section]):
        assert re.search(rf"^#? ?{field.name} = ", body, re.M), f"[{section}] {field.name} is not in the example"


def test_every_section_is_in_the_example() -> None:
    for section in config_module.SECTIONS:
        assert f"[{section}]" in EXAMPLE or f"[[{section}]]" in EXAMPLE, section


def test_every_cli_command_is_in_the_readme() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert commands
    for name in commands:
        assert f"omo-edge {name}" in README, f"`omo-edge {name}` is not documented in README.md"


def test_readme_gives_the_two_setup_commands_near_the_top() -> None:
    top = README[:1500]
    assert "./.ci/bootstrap demo" in top and "./.ci/bootstrap test" in top
    assert "./.ci/bootstrap test" in (ROOT / ".ci" / "run").read_text()
