"""API fuzzing, the long run: schemathesis against docs/openapi.yaml on the whole agent, then the known basket.

    .venv/bin/python bench/api_fuzz.py [--examples 500] [--cli-examples 300] [--seed 18]

The agent runs in this process on its real HTTP server on 127.0.0.1 (simulators/lanes/api.py: a pty scanner,
the simulated payment, the store's catalog). Two passes: simulators/trials/api_fuzz.py's driver (every operation,
valid and invalid inputs, half the staff calls with a real staff token, every check), then `schemathesis
run` with every phase (coverage, fuzzing, stateful) and every check. Then the lane must still price a known
basket right, record its sale, pass integrity_check and keep its outbox seq gap-free. Exit 1 on any fault.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulators.cloud.tokens import TokenIssuer  # noqa: E402
from simulators.lanes.api import ThreadedLane, known_basket_problems  # noqa: E402
from simulators.trials.api_fuzz import Target, fuzz, run_cli  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=500, help="per operation and generation mode")
    parser.add_argument("--cli-examples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work, ThreadedLane(Path(work), TokenIssuer()) as lane:
        started = time.perf_counter()
        report = fuzz(Target(lane.base_url, lambda: lane.issuer.staff("S-0001")), max_examples=args.examples,
                      seed=args.seed)
        driver_s = time.perf_counter() - started
        started = time.perf_counter()
        code, cli_cases, summary = run_cli(lane.base_url, max_examples=args.cli_examples, seed=args.seed,
                                           timeout_s=1800)
        cli_s = time.perf_counter() - started
        problems = known_basket_problems(lane)
    print(f"schemathesis driver: {report.total:,} cases over {len(report.cases)} operations in {driver_s:.0f} s, "
          f"{len(report.faults)} faults")
    for fault, curl in report.faults.items():
        print(f"  {fault}\n    {curl[:400]}")
    print(f"schemathesis run (coverage, fuzzing, stateful; all checks): {cli_cases:,} cases in {cli_s:.0f} s, "
          f"exit {code}")
    if code:
        print(summary)
    print(f"afterwards, the known basket: {'; '.join(problems) or 'priced 600 (tax 44), sale recorded, '}"
          f"{'' if problems else 'integrity_check ok, seq gap-free'}")
    return 1 if report.faults or code or problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
