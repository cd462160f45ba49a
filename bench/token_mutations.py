"""The token mutation campaign: N hostile variants of valid member, coupon and order tokens, none accepted.

    .venv/bin/python bench/token_mutations.py [--count 1000000] [--seed 1]

Each mutation (simulators/cloud/token_mutations.py: bit flips, truncations, alg none, HS256 keyed with the
public key, kid with path separators, duplicate names, oversized, base64 padding tricks, an unknown key, exp/
iat/nbf at the edges) goes to `agent.interpret.tokens.verify` with a synchronised clock. Accepted: it gave
Claims. Crash: it raised. Prints the rate (mutations/s) and the counts per class; exit 1 unless zero of both.
The control: the valid seed tokens themselves are accepted by the same check, so the campaign can see one.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulators.cloud.token_mutations import campaign  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    tried, accepted, crashed, examples = campaign(args.count, args.seed)
    elapsed = time.perf_counter() - started
    total = sum(tried.values())
    print(f"token mutations: {total:,} in {elapsed:.1f} s = {total / elapsed:,.0f} mutations/s; "
          f"accepted {sum(accepted.values())}, crashed {sum(crashed.values())}")
    for name in sorted(tried):
        print(f"  {name:<18} {tried[name]:>9,}  accepted {accepted[name]}  crashed {crashed[name]}")
    for example in examples:
        print("  " + example)
    return 1 if accepted or crashed else 0


if __name__ == "__main__":
    raise SystemExit(main())
