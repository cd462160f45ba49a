"""What a reload (SIGHUP) says needs a restart: `agent.app.restart_needed`, pure, on parsed configs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.app import restart_needed
from agent.config import Config, parse

BASE: dict[str, Any] = {"agent": {"store_id": "store-001", "lane_id": "lane-01", "state_dir": "/var/lib/omo-edge"},
                        "api": {"listen": "127.0.0.1:8765"}}


def config(**sections: dict[str, Any]) -> Config:
    data = {name: dict(values) for name, values in BASE.items()}
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return parse(data, Path("/etc/omo-edge/agent.toml"), check_devices=False)


@pytest.mark.parametrize(("change", "named"), [
    ({"session": {"inactivity_timeout_s": 60}}, ["session.inactivity_timeout_s"]),
    ({"session": {"max_lines": 50, "tax_rounding": "up"}}, ["session.max_lines", "session.tax_rounding"]),
    ({"interpret": {"unsynced_skew_s": 600}}, ["interpret.unsynced_skew_s"]),
    ({"agent": {"stop_sales_free_mb": 128}}, ["agent.stop_sales_free_mb"]),
    ({"mqtt": {"host": "broker.store.example"}}, ["mqtt"]),
    ({"agent": {"log_level": "debug", "log_format": "json"}}, []),
    ({}, []),
])
def test_a_reload_names_each_changed_key_it_does_not_apply(change: dict[str, dict[str, Any]],
                                                             named: list[str]) -> None:
    assert restart_needed(config(), config(**change)) == named
