"""The money model, the long campaign: many programs through the state machine of tests/session/test_money_model.py.

    .venv/bin/python bench/money_model.py [--programs 10000] [--steps 50] [--seed 1] [--all-inputs] [--failures F]

Each program is a fresh lane (the real session code, lane.db, catalog, local API, fake clock, simulated payment
service) driven by up to `--steps` random rules, with every invariant of simulators/trials/money_model.py checked after
every step against the independent reference model. Programs are generated, never shrunk (a violation is
reported with the program's steps as hypothesis prints them, and the campaign goes on with the next batch).
`--all-inputs` also runs the inputs that show the defects still listed in `KNOWN_OPEN`
(simulators/trials/money_catalog.py). Prints programs, steps, violations by invariant and programs per second; exit 1
on any violation.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, Phase, settings  # noqa: E402
from hypothesis.stateful import run_state_machine_as_test  # noqa: E402

from simulators.trials.money_catalog import KNOWN_OPEN  # noqa: E402
from simulators.trials.money_model import Tally, Violation, machine  # noqa: E402

BATCH = 100


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--programs", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=50, help="the most rules one program runs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--all-inputs", action="store_true", help="also the inputs of the defects in KNOWN_OPEN")
    parser.add_argument("--failures", type=Path, help="write each failing program whole to this file")
    args = parser.parse_args()
    logging.disable(logging.WARNING)          # the lane logs every lost payment reply; the campaign makes many
    random.seed(args.seed)                    # hypothesis draws each run's seed from the global generator
    tally = Tally()
    machine_class = machine(tally, frozenset() if args.all_inputs else KNOWN_OPEN)
    examples: list[str] = []
    violations: Counter[str] = Counter()
    started = time.perf_counter()
    while tally.programs < args.programs:
        batch = min(BATCH, args.programs - tally.programs)
        try:
            run_state_machine_as_test(machine_class, settings=settings(
                max_examples=batch, stateful_step_count=args.steps, deadline=None, database=None,
                phases=[Phase.generate], suppress_health_check=list(HealthCheck), print_blob=False))
        except Exception as failure:  # noqa: BLE001 - a violation, or the lane failing outright: count and go on
            for one in failure.exceptions if isinstance(failure, BaseExceptionGroup) else (failure,):
                violations[one.name if isinstance(one, Violation) else type(one).__name__] += 1
                examples.append("\n".join([str(one), *getattr(one, "__notes__", [])]))
    elapsed = time.perf_counter() - started
    print(f"programs {tally.programs:,}, steps {tally.steps:,} (up to {args.steps} rules each), seed {args.seed}, "
          f"inputs {'all' if args.all_inputs else 'without ' + ', '.join(sorted(KNOWN_OPEN)) or 'all'}")
    print(f"invariant violations {sum(violations.values())}"
          + "".join(f"\n  {name}: {n}" for name, n in sorted(violations.items())))
    for example in examples[:20]:
        print(f"  e.g. {example[:300]}")
    if args.failures and examples:
        args.failures.write_text("\n\n".join(examples) + "\n")
        print(f"the {len(examples)} failing programs, whole: {args.failures}")
    print(f"{tally.programs / elapsed:.1f} programs/s, {tally.steps / elapsed:.0f} steps/s, {elapsed:.0f} s")
    return 1 if violations else 0


if __name__ == "__main__":
    raise SystemExit(main())
