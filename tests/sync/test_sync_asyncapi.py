"""docs/asyncapi.yaml documents every topic of the lane's contract, and every payload the agent publishes fits it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from agent.lane_db import open_sync_db
from agent.session.records.sales import record_sale
from agent.session.records.scans import record_scan
from agent.sync import commands, outbox
from simulators.lanes.writer import sale, scan

ROOT = Path(__file__).resolve().parents[2]
DOC: dict[str, Any] = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())


def validate(schema_name: str, payload: object) -> None:
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": DOC["components"]}
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(payload)


def test_every_topic_of_the_design_table_is_a_channel() -> None:
    addresses = {c["address"] for c in DOC["channels"].values()}
    for leaf in ("scans", "sales", "sessions", "status", "acks", "commands"):
        assert f"{{prefix}}/{{store}}/{{lane}}/{leaf}" in addresses
    assert "{prefix}/{store}/catalog" in addresses
    assert DOC["asyncapi"].startswith("3.")


def published_payloads(tmp_path: Path) -> list[dict[str, Any]]:
    db = open_sync_db(tmp_path / "lane.db", "store-001", "lane-01")
    try:
        for n in range(6):
            db.write_blocking(record_scan, scan(n))
        db.write_blocking(record_sale, sale(1))
        db.write_blocking(record_sale, {**sale(2), "status": "voided", "member_id": None})
        db.write_blocking(outbox.shed)
        return [json.loads(p) for (p,) in db.reader().execute("SELECT payload FROM outbox ORDER BY seq")]
    finally:
        db.close()


SCHEMA_FOR = {"omo.scan/1": "Scan", "omo.sale/1": "Sale", "omo.shed/1": "Shed", "omo.session/1": "Session"}


def test_every_payload_the_agent_publishes_matches_its_schema(tmp_path: Path) -> None:
    payloads = published_payloads(tmp_path)
    assert {p["schema"] for p in payloads} == {"omo.sale/1", "omo.shed/1"}   # the scans were shed
    for payload in payloads:
        validate(SCHEMA_FOR[payload["schema"]], payload)


def test_a_scan_payload_matches_its_schema(tmp_path: Path) -> None:
    db = open_sync_db(tmp_path / "lane.db", "store-001", "lane-01")
    try:
        db.write_blocking(record_scan, scan(1))
        (payload,) = [json.loads(p) for (p,) in db.reader().execute("SELECT payload FROM outbox")]
    finally:
        db.close()
    validate("Scan", payload)


def test_a_scan_with_an_addon_matches_its_schema_and_a_malformed_addon_does_not(tmp_path: Path) -> None:
    db = open_sync_db(tmp_path / "lane.db", "store-001", "lane-01")
    try:
        db.write_blocking(record_scan, {**scan(1), "addon": "51299"})
        (payload,) = [json.loads(p) for (p,) in db.reader().execute("SELECT payload FROM outbox")]
    finally:
        db.close()
    assert payload["addon"] == "51299"
    validate("Scan", payload)
    with pytest.raises(jsonschema.ValidationError):
        validate("Scan", {**payload, "addon": "5129"})


def test_status_ack_and_command_payloads_match() -> None:
    validate("Status", "online")
    validate("Status", "offline")
    # The reference ingest's ack (simulators/cloud/ingest.py) and a command as commands.CommandRouter reads it.
    validate("Ack", {"schema": "omo.ack/1", "event_ids": [str(uuid.uuid4())], "seq_hwm": 7})
    for command in commands.COMMANDS:
        validate("Command", {"command_id": "c-1", "command": command, "args": {}})


def test_a_payload_without_its_envelope_is_refused() -> None:
    with pytest.raises(jsonschema.ValidationError):
        validate("Sale", {"schema": "omo.sale/1", "sale_id": "s", "lines": [], "total": 1})


def test_a_learned_weight_event_matches_its_schema(tmp_path: Path) -> None:
    from agent.bagging.records import add_sample
    from agent.bagging.rules import Sample
    from agent.lane_db import open_lane_db

    (tmp_path / "state").mkdir()
    db = open_lane_db(tmp_path / "state", "store-001", "lane-01")
    try:
        for n, weight in enumerate((250_000, 251_000, 249_000)):
            db.write_blocking(add_sample, Sample("04901234567894", weight), float(n), 3, 5_000)
        payloads = [json.loads(p) for (p,) in db.reader().execute("SELECT payload FROM outbox ORDER BY seq")]
    finally:
        db.close()
    assert [p["schema"] for p in payloads] == ["omo.weights/1"]
    assert payloads[0]["weight_mg"] == 250_000 and payloads[0]["samples"] == 3
    validate("Weights", payloads[0])
