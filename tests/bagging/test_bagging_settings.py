"""`[bagging]` in the config file: defaults, and the mistakes refused with the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import Config, load
from agent.errors import ConfigError

BASE = '[agent]\nstore_id = "store-001"\nlane_id = "lane-01"\nstate_dir = "{state}"\n\n'


def _load(tmp_path: Path, bagging: str) -> Config:
    path = tmp_path / "agent.toml"
    path.write_text(BASE.format(state=tmp_path / "state") + bagging)
    return load(path)


def test_without_the_section_bagging_is_off(tmp_path: Path) -> None:
    config = _load(tmp_path, "")
    assert config.bagging.enabled is False and config.bagging.skip_max_g == 0


def test_a_scale_and_its_options_are_taken(tmp_path: Path) -> None:
    config = _load(tmp_path, '[bagging]\nenabled = true\nskip_max_g = 1500\n'
                             'scale = { driver = "scp01", port = "/dev/ttyUSB1", rate_hz = 20 }\n')
    section = config.bagging
    assert section.enabled and section.skip_max_g == 1500
    assert section.scale is not None and section.scale["rate_hz"] == 20


@pytest.mark.parametrize(("body", "key", "fix"), [
    ("enabled = true\n", "[bagging] scale", "driver"),
    ('enabled = true\nscale = { driver = "no_such_scale", port = "/dev/ttyUSB1" }\n', "[bagging] scale",
     "omo_edge.scales"),
    ('scale = { port = "/dev/ttyUSB1" }\n', "[bagging] scale", "driver"),
    ("place_timeout_s = 0\n", "[bagging] place_timeout_s", "seconds"),
    ("tolerance_g = -1\n", "[bagging] tolerance_g", "integer"),
    ("place_timeout = 5\n", "[bagging]", "place_timeout_s"),
])
def test_mistakes_are_refused_naming_the_key_and_the_fix(tmp_path: Path, body: str, key: str, fix: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, "[bagging]\n" + body)
    assert str(caught.value.key).startswith(key) and "Fix:" in str(caught.value) and fix in str(caught.value)
