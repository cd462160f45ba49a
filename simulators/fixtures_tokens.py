"""Fixtures for app tokens: a fake-cloud issuer whose public key is on disk, and router rules that trust it."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.interpret_config import InterpretSection, Rules, build_rules
from simulators.tokens import TokenIssuer


@pytest.fixture
def token_issuer(tmp_path: Path) -> TokenIssuer:
    """An issuer (kid "cloud-test") with `<kid>.pub` written under tmp_path/keys; `.key_path` is that file."""
    issuer = TokenIssuer()
    keys = tmp_path / "keys"
    keys.mkdir()
    issuer.write_public_key(keys)
    return issuer


@pytest.fixture
def interpret_rules(token_issuer: TokenIssuer) -> Rules:
    """Default `[interpret]` rules with the issuer's key trusted, 300 s skew, JPY."""
    assert token_issuer.key_path is not None
    return build_rules(InterpretSection(), (token_issuer.key_path,), 300, "JPY")
