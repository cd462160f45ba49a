"""`omo-edge outbox status` reads lane.db without the agent and says what still waits for the cloud."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from agent.lane_db import open_sync_db
from agent.session.records.sales import record_sale
from simulators.lanes.writer import sale


def run_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent", "outbox", "status", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=60)


def write_config(tmp_path: Path) -> Path:
    config = tmp_path / "agent.toml"
    config.write_text(f'[agent]\nstore_id = "store-001"\nlane_id = "lane-01"\nstate_dir = "{tmp_path / "state"}"\n')
    return config


def test_outbox_status_shows_depth_per_class_and_the_oldest_unconfirmed_sale(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    db = open_sync_db(tmp_path / "state" / "lane.db", "store-001", "lane-01")
    db.write_blocking(record_sale, sale(1))
    db.close()
    result = run_cli(config)
    assert result.returncode == 0, result.stderr
    assert "sales 1" in result.stdout and "last ack from the cloud: never" in result.stdout
    report = json.loads(run_cli(config, "--json").stdout)
    assert report["outbox_depth"]["sales"] == 1 and report["oldest_unconfirmed_sale_age_s"] is not None


def test_outbox_status_without_a_lane_database_says_so(tmp_path: Path) -> None:
    result = run_cli(write_config(tmp_path))
    assert result.returncode == 1 and "no lane database" in result.stderr
