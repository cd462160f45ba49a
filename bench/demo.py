"""The demo as a newcomer runs it: time to the first sale confirmed by the cloud, wall time and peak memory.

    .venv/bin/python bench/demo.py [--runs 3] [--pace 0.8]

Runs `omo-edge demo` (after set-up: the venv exists) as a new process, `--runs` times, and reads the timing
line it prints. Baseline in the same run: the time from the agent's start to a ready lane (catalog pulled,
scanner, camera and uplink up), which the first sale can never beat. Peak RSS is the largest of the demo's
processes (the agent with its simulators in one Python process, mosquitto, the ingest), from the kernel's
accounting of waited-for children.
"""

from __future__ import annotations

import argparse
import re
import resource
import statistics
import subprocess
import sys
import time


def one_run(pace: float) -> tuple[float, float, float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "agent", "demo", "--pace", str(pace)], capture_output=True,
                            text=True, timeout=600)
    wall = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"the demo failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    timing = re.search(r"timing: lane ready ([\d.]+) s, first sale confirmed by the cloud ([\d.]+) s", result.stdout)
    assert timing is not None, result.stdout[-2000:]
    peak_mb = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    return float(timing.group(1)), float(timing.group(2)), wall, peak_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pace", type=float, default=0.8, help="the demo's own default")
    args = parser.parse_args()
    runs = [one_run(args.pace) for _ in range(args.runs)]
    ready, first, wall, peak = (statistics.median(column) for column in zip(*runs, strict=True))
    print(f"demo ({args.runs} runs, --pace {args.pace}, medians):")
    print(f"  first sale confirmed by the cloud  {first:.1f} s after the agent started "
          f"({first / ready:.1f}x the baseline)")
    print(f"  baseline: lane ready               {ready:.1f} s")
    print(f"  wall time, process start to exit   {wall:.1f} s")
    print(f"  peak RSS (largest process)         {max(run[3] for run in runs):.0f} MB (median {peak:.0f} MB)")


if __name__ == "__main__":
    main()
