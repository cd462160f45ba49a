"""kill -9 of the lane at random instants during a stream of sales and scans loses nothing committed."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from simulators.cloud.broker import MosquittoBroker
from simulators.fixtures.sync import IngestProcess
from simulators.trials import kill9

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(180)]

TRIALS = int(os.environ.get("OMO_KILL9_TRIALS", "20"))


def test_every_committed_sale_reaches_the_ingest_once_after_kill_9_at_random_instants(
        mqtt_broker: MosquittoBroker, ingest: IngestProcess, tmp_path: Path) -> None:
    seed = int(os.environ.get("OMO_KILL9_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    state = tmp_path / "lane"
    reported: set[str] = set()
    for trial in range(TRIALS):
        reported |= kill9.one_trial(state, mqtt_broker.port, rng)
        assert kill9.integrity(state / "lane.db") == "ok", f"trial {trial}, seed {seed}"
    kill9.drain(state, mqtt_broker.port)
    committed = kill9.committed_sales(state / "lane.db")
    assert reported <= committed, f"a sale reported committed is missing from lane.db (seed {seed})"
    held = ingest.event_ids("omo.sale/1")
    assert len(held) == len(set(held))
    assert set(held) == committed, f"seed {seed}"
    report = ingest.report()
    assert report["gaps"] == [] and report["max_seq"] == kill9.last_seq(state / "lane.db"), f"seed {seed}"
    assert len(committed) > TRIALS   # the trials did record sales
