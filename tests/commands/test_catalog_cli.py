"""`omo-edge catalog import` and `omo-edge catalog status` as store IT runs them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from agent.cli import main
from simulators.cloud.catalog_data import SnapshotSpec, gtin_for, write_snapshot


def write_config(tmp_path: Path) -> Path:
    config = tmp_path / "agent.toml"
    config.write_text(f'[agent]\nstore_id = "store-001"\nlane_id = "lane-01"\nstate_dir = "{tmp_path / "state"}"\n')
    return config


def test_import_then_status_through_the_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    snapshot = write_snapshot(tmp_path / "c.jsonl.gz", SnapshotSpec(products=40, members=4, version=9), compress=True)
    assert main(["catalog", "import", str(snapshot), "--config", str(config)]) == 0
    assert "catalog version 9 loaded" in capsys.readouterr().out
    assert main(["catalog", "status", "--config", str(config), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["version"] == 9 and status["counts"]["product"] == 40 and status["counts"]["member"] == 4


def test_a_file_with_one_bad_line_is_refused_with_its_number(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    lines = [json.dumps({"gtin": gtin_for(i), "name": "x", "price": 10, "tax_rate": "0.08", "version": 1})
             for i in range(5)]
    lines[3] = lines[3].replace('"price": 10', '"price": "ten"')
    body = "".join(line + "\n" for line in lines).encode()
    trailer = {"kind": "trailer", "version": 1, "count": 5, "sha256": hashlib.sha256(body).hexdigest()}
    path = tmp_path / "bad.jsonl"
    path.write_bytes(body + json.dumps(trailer).encode() + b"\n")
    assert main(["catalog", "import", str(path), "--state-dir", str(tmp_path / "state")]) == 2
    err = capsys.readouterr().err
    assert "line 4" in err and "price" in err and "nothing was loaded" in err
    assert main(["catalog", "status", "--state-dir", str(tmp_path / "state")]) == 1
    assert "no catalog loaded" in capsys.readouterr().out


def test_a_missing_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "import", str(tmp_path / "nope.jsonl"), "--state-dir", str(tmp_path)]) == 2
    assert "not a file" in capsys.readouterr().err
