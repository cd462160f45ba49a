"""Power-cut soak: the daemon's state directory on the power-loss layer, killed -9 and cut at random instants.

    .venv/bin/python bench/soak_power.py [--trials 1000] [--control-trials 100] [--seed N]

Runs the campaign (simulators/trials/power.py) with synchronous=FULL, then the control with
synchronous=NORMAL, each on a fresh lane, broker and ingest. Prints for each the trials, the sales reported paid
(by the API or on the screen), the sales lost, the corrupt databases and the final checks. Exits 0 when FULL
lost nothing and broke nothing and the control lost something (the campaign can see a loss); 1 otherwise.
Needs root (FUSE), fuse3 and mosquitto (.ci/bootstrap installs them).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulators.fixtures.sync import cloud_on_loopback  # noqa: E402
from simulators.powerloss.mount import unavailable  # noqa: E402
from simulators.trials.power import Figures, campaign  # noqa: E402


def run(trials: int, seed: int, synchronous: str) -> Figures:
    with tempfile.TemporaryDirectory(prefix=f"omo-power-{synchronous.lower()}-") as tmp:
        work = Path(tmp)
        with cloud_on_loopback(work / "cloud") as (broker, ingest):
            figures = campaign(work / "lane", broker.port, ingest, trials, seed, synchronous, progress=True)
    print(figures.summary(), flush=True)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--control-trials", type=int, default=100)
    parser.add_argument("--seed", type=int, default=random.randrange(1 << 30))
    args = parser.parse_args()
    if (reason := unavailable()) is not None:
        print(f"cannot mount the power-loss layer: {reason}")
        return 1
    print(f"power-cut soak, seed {args.seed}", flush=True)
    full = run(args.trials, args.seed, "FULL")
    control = run(args.control_trials, args.seed, "NORMAL")
    full_ok = not full.lost and not full.corrupt and not full.seq_gaps and not full.problems
    print(f"FULL: {'OK' if full_ok else 'FAILED'}; NORMAL control: "
          f"{'saw losses, as it must' if control.lost else 'saw no loss: the campaign is blind'}")
    return 0 if full_ok and control.lost else 1


if __name__ == "__main__":
    sys.exit(main())
