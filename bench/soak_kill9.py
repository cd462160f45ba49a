"""kill -9 soak: many trials of killing a streaming lane at random instants, then one full check.

    .venv/bin/python bench/soak_kill9.py [--trials 100] [--seed N]

Prints the sales committed, the ingest's count and gaps, and the integrity checks; exits 1 on any loss.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulators.fixtures.sync import IngestProcess, cloud_on_loopback  # noqa: E402
from simulators.trials import kill9  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--seed", type=int, default=random.randrange(1 << 30))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="omo-soak-"))
    with cloud_on_loopback(work) as (broker, ingest):
        return soak(work, broker.port, ingest, args.trials, args.seed)


def soak(work: Path, port: int, ingest: IngestProcess, trials: int, seed: int) -> int:
    """The trials, then the final drain and check against what the ingest holds; 0 when nothing was lost."""
    rng, reported, started = random.Random(seed), set(), time.monotonic()
    for trial in range(trials):
        reported |= kill9.one_trial(work / "lane", port, rng)
        if kill9.integrity(work / "lane" / "lane.db") != "ok":
            print(f"trial {trial}: integrity_check failed (seed {seed})")
            return 1
    kill9.drain(work / "lane", port)
    committed = kill9.committed_sales(work / "lane" / "lane.db")
    held = ingest.event_ids("omo.sale/1")
    report = ingest.report()
    ok = (reported <= committed and set(held) == committed and len(held) == len(set(held))
          and not report["gaps"] and report["max_seq"] == kill9.last_seq(work / "lane" / "lane.db"))
    print(f"{trials} kill -9 trials in {time.monotonic() - started:.0f} s, seed {seed}: "
          f"{len(committed)} sales committed ({len(reported)} reported before the kill), "
          f"{len(held)} held by the ingest, {report['max_seq']} seqs, gaps {report['gaps'][:10]}: "
          f"{'OK' if ok else 'LOSS'}")
    return 0 if ok else 1

if __name__ == "__main__":
    sys.exit(main())
