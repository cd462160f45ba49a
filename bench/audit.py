"""The random audit's pure costs: the chance and the k lines of a visit, and the multiset comparison.

    .venv/bin/python bench/audit.py [--lines 30] [--rounds 20000]

1. The chance: `probability_bp` on a basket with a member and every risk factor set, and `pick_lines` (k = 3 of
   `--lines` lines, seeded by the visit ID). Baseline in the same run: one `random.random()` draw, the cost the
   old `audit_rate` flag had.
2. The comparison: `compare` of the audited lines' counts with the rescanned counts, equal and with one of each
   kind of difference. Baseline in the same run: `Counter(basket) == Counter(found)` on the same units, which
   says only whether they differ.
Each figure is the median of 5 repeats, in µs per call on this machine.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import timeit
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.catalog.records import OfflinePolicy  # noqa: E402
from agent.session.rules.audit import compare  # noqa: E402
from agent.session.rules.audit_policy import RiskFacts, pick_lines, probability_bp  # noqa: E402


def per_call_us(fn: Callable[[], object], rounds: int) -> float:
    return statistics.median(timeit.repeat(fn, number=rounds, repeat=5)) / rounds * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=20000)
    args = parser.parse_args()
    n, rounds = args.lines, args.rounds
    policy = OfflinePolicy(audit_base_bp=200, audit_value_bp=50, audit_items_bp=25, audit_restricted_bp=300,
                           audit_new_member_bp=200, audit_finding_bp=500, audit_clean_bp=40)
    facts = RiskFacts(basket_value=12_345, items=n, restricted=True, member=True, member_days=30, audits=7,
                      audit_findings=1)
    line_ids = tuple(f"L{i}" for i in range(1, n + 1))
    draw = per_call_us(random.random, rounds)
    chance = per_call_us(lambda: probability_bp(policy, facts, 0.02), rounds)
    picked = per_call_us(lambda: pick_lines("01a2531f-c07d-7111-ad72-64d5c7e26176", line_ids, 3), rounds)
    print(f"-- the chance and the lines ({n} lines, k = 3)")
    print(f"baseline random.random()        {draw:8.3f} µs")
    print(f"probability_bp                  {chance:8.3f} µs  x{chance / draw:.1f}")
    print(f"pick_lines                      {picked:8.3f} µs  x{picked / draw:.1f}")

    gtins = [f"{4_510_000_000_000 + i:014d}" for i in range(n)]
    basket = {g: 1 + i % 3 for i, g in enumerate(gtins)}
    found_same = dict(basket)
    found_diff = dict(basket)
    found_diff[gtins[0]] += 1                                   # quantity too low
    found_diff[gtins[1]] -= 1 if basket[gtins[1]] > 1 else 0    # quantity too high (when it can go down)
    del found_diff[gtins[2]]                                    # replaced by a different item
    found_diff["04599999999999"] = 1
    found_diff["04599999999998"] = 2                            # a missing item
    units = {name: [g for g, k in counts.items() for _ in range(k)]
             for name, counts in (("basket", basket), ("same", found_same), ("diff", found_diff))}
    print(f"-- the comparison ({n} GTINs, {sum(basket.values())} units)")
    for label, found in (("equal", found_same), ("one of each kind", found_diff)):
        seen = units["same" if found is found_same else "diff"]
        base = per_call_us(lambda seen=seen: Counter(units["basket"]) == Counter(seen), rounds // 4)
        ours = per_call_us(lambda found=found: compare(basket, found), rounds // 4)
        print(f"{label:17s} baseline Counter ==  {base:8.2f} µs   compare {ours:8.2f} µs  x{ours / base:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
