"""Power cuts of the deployed lane: the daemon sells (pty scanner, simulated payment) with its state directory on
the power-loss layer, is killed -9 at a random instant and the layer cut, and restarts on what survived.

With synchronous=FULL no sale the API reported paid is ever lost, lane.db is never corrupt, and once quiet every
sale is at the ingest exactly once with no seq gap and no payment left open. The control run with
synchronous=NORMAL loses sales: the campaign can see a loss. bench/soak_power.py runs 1,000 cuts.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from simulators.cloud.broker import MosquittoBroker
from simulators.fixtures.sync import IngestProcess
from simulators.powerloss.mount import unavailable
from simulators.trials.power import campaign

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(300)]

TRIALS = int(os.environ.get("OMO_POWER_TRIALS", "50"))
CONTROL_TRIALS = 8


@pytest.fixture(autouse=True)
def fuse_available() -> None:
    reason = unavailable()
    if reason is not None:
        pytest.skip(f"the power-loss layer cannot mount here: {reason}")


def test_no_sale_reported_paid_is_lost_and_no_database_is_corrupt_across_power_cuts(
        mqtt_broker: MosquittoBroker, ingest: IngestProcess, tmp_path: Path) -> None:
    seed = int(os.environ.get("OMO_POWER_SEED", random.randrange(1 << 30)))
    figures = campaign(tmp_path / "lane", mqtt_broker.port, ingest, TRIALS, seed)
    print(figures.summary())
    assert figures.trials == TRIALS
    assert figures.reported_paid >= TRIALS, f"too few sales to prove anything (seed {seed})"
    assert figures.cuts_discarding >= TRIALS // 2, "the cuts should discard unsynced writes (the -shm at least)"
    assert not figures.lost, f"sales reported paid and lost: {sorted(figures.lost)[:5]} (seed {seed})"
    assert figures.corrupt == 0, f"seed {seed}"
    assert figures.problems == [], f"seed {seed}: {figures.summary()}"
    assert figures.ingest_sales == figures.lane_sales >= figures.reported_paid


def test_the_control_run_with_synchronous_normal_loses_sales(
        mqtt_broker: MosquittoBroker, ingest: IngestProcess, tmp_path: Path) -> None:
    seed = int(os.environ.get("OMO_POWER_SEED", random.randrange(1 << 30)))
    figures = campaign(tmp_path / "lane", mqtt_broker.port, ingest, CONTROL_TRIALS, seed, synchronous="NORMAL")
    print(figures.summary())
    assert figures.lost, f"NORMAL does not fsync commits: the campaign must see a loss (seed {seed})"
    assert figures.corrupt == 0, "NORMAL loses the last commits, but WAL keeps the database sound"
