"""The bagging-area scale against simulated shoppers: what it finds, what it costs honest shoppers, how fast it
calls, and the CPU it takes.

1. Detection and false calls: `--visits` shopper visits (simulators/trials/shoppers.py), `--dishonest` of them
   dishonest (one act each, the four behaviours evenly), played in simulated time over agent/bagging/rules.py
   and the platter's physics (a 30 kg platter, 2 g division, 0.4 g noise, drift 50 mg/min, 0.6 s settling,
   10 Hz readings). Per behaviour the share of visits with a call at or after the act; false calls per 100
   honest visits; the extra seconds honest shoppers wait (each call costs them STAFF_S = 30 s, an assumption:
   the attendant's walk); the act-to-call time; the value that leaves unpaid, priced by the one pricing engine.
2. Reading to call: `--calls` unexpected items on a real lane (agent.app.start, pty scanner, pty SCP-01 scale at
   20 Hz): from the reading that showed the weight to the call committed in lane.db (the watcher's own timing).
3. CPU: the lane's event-loop thread CPU time over `--cpu-seconds` with the bagging scale on and off (the scale
   simulator runs in its own thread, not counted), as a share of a core and per visit (x the median honest
   visit's duration from part 1).

    .venv/bin/python bench/bagging.py [--visits 10000] [--dishonest 0.02] [--calls 30] [--cpu-seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from agent.bagging.settings import BaggingSection
from agent.session.rules import action_rules
from simulators.devices.scale_physics import ScalePhysics
from simulators.lanes.bagging import BaggingRig
from simulators.trials import shoppers as sh

SKIP_MAX_G = 1500


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def detection(count: int, dishonest: float, seed: int) -> float:
    """Part 1; returns the median honest visit's duration (simulated seconds)."""
    settings = BaggingSection(enabled=True, skip_max_g=SKIP_MAX_G)
    lane = sh.PureLane(settings, sh.physics_for_lane(seed))
    visits = sh.visits(count, sh.Shoppers(dishonest_rate=dishonest), seed=seed)
    cpu = time.process_time()
    outcomes = [lane.play(visit) for visit in visits]
    cpu = time.process_time() - cpu
    by: dict[str, list[tuple[sh.Visit, sh.Outcome]]] = defaultdict(list)
    for visit, outcome in zip(visits, outcomes, strict=True):
        by[outcome.behaviour].append((visit, outcome))
    honest = by["honest"]
    print(f"== detection: {count} visits, {dishonest:.1%} dishonest, skip_max_g = {SKIP_MAX_G} (seed {seed})")
    print(f"{'behaviour':<28}{'visits':>8}{'found':>8}{'rate':>8}{'act->call p50/p99 s':>22}"
          f"{'unpaid found':>14}{'missed':>9}")
    for behaviour in sh.BEHAVIOURS:
        rows = by.get(behaviour, [])
        _line(behaviour, rows)
        if behaviour == "bagged_without_scan":
            _line("  of them over 20 g", [(v, o) for v, o in rows if v.act_mass_g > 20])
    calls = sum(len(o.calls) for _, o in honest)
    extra = [o.extra_s for _, o in honest]
    reasons: dict[str, int] = defaultdict(int)
    for _, o in honest:
        for _, reason in o.calls:
            reasons[reason] += 1
    print(f"honest visits: {len(honest)}; false calls per 100 honest visits: {100 * calls / len(honest):.2f} "
          f"({dict(reasons)}); honest visits with a call: {100 * sum(1 for e in extra if e) / len(honest):.2f} %")
    print(f"extra seconds per honest visit (a call costs {sh.STAFF_S:g} s): median {statistics.median(extra):.1f}, "
          f"mean {statistics.fmean(extra):.2f}, p99 {pct(extra, 0.99):.1f}; prompts 'place the item' per 100 "
          f"honest visits: {100 * sum(o.prompts for _, o in honest) / len(honest):.1f}")
    readings = sum(o.readings for o in outcomes)
    print(f"rules + physics CPU: {1000 * cpu / count:.2f} ms per visit ({1e6 * cpu / readings:.1f} us per reading, "
          f"{readings / count:.0f} readings per visit)")
    durations = [max(s.at for s in v.steps) for v, _ in honest]
    return statistics.median(durations)


def _line(name: str, rows: list[tuple[sh.Visit, sh.Outcome]]) -> None:
    found = [o for _, o in rows if o.detected]
    delays = [o.act_to_call_s for o in found if o.act_to_call_s is not None]
    unpaid_found = sum(v.loss() for v, o in rows if o.detected)
    unpaid_missed = sum(v.loss() for v, o in rows if not o.detected)
    rate = f"{100 * len(found) / len(rows):.1f}%" if rows else "-"
    print(f"{name:<28}{len(rows):>8}{len(found):>8}{rate:>8}{pct(delays, 0.5):>11.2f} /{pct(delays, 0.99):>6.2f}    "
          f"{unpaid_found:>10} yen{unpaid_missed:>6} yen")


async def reading_to_call(calls: int, work: Path) -> None:
    """Part 2."""
    tea = next(p for p in sh.PRODUCTS if p.name == "Green tea 500ml")
    rig = BaggingRig(work, sh.catalog_lines(), physics=ScalePhysics(seed=2, settle_s=0.3, noise_mg=300,
                                                                     started_at=time.monotonic()))
    try:
        async with rig.lane() as lane:
            assert lane.bagging is not None
            controller = lane.session
            for _ in range(calls):
                rig.scanner.scan(tea.code, aim="]E0")
                await _until(lambda: len(lane.session.session.active_lines) == 1)
                rig.scale.place(tea.weight_g * 1000)
                await _until(lambda: lane.bagging is not None and lane.bagging.bag.bagged == 1)
                rig.scale.place(150_000)
                await _until(lambda: bool(lane.session.session.pending))
                await controller.apply(lambda s: action_rules.resolve(s, approved=True, staff_id="S-BENCH",
                                                                      settings=controller.settings, now=time.time()))
                await controller.apply(lambda s: action_rules.cancel(s, controller.settings, time.time()))
                for item in list(rig.scale.physics.items):
                    rig.scale.lift(item.mass_mg)
                await asyncio.sleep(0.6)
            latencies = [1000 * s for s in lane.bagging.latencies]
    finally:
        rig.close()
    print(f"== reading -> call committed: {len(latencies)} unexpected items on a real lane (SCP-01 pty at 20 Hz): "
          f"p50 {pct(latencies, 0.5):.1f} ms, p99 {pct(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms")


async def cpu(seconds: float, work: Path, visit_s: float) -> None:
    """Part 3."""
    used = {}
    for enabled in (True, False):
        rig = BaggingRig(work / str(enabled), sh.catalog_lines())
        try:
            async with rig.lane(enabled=enabled):
                await asyncio.sleep(1.0)
                start = time.thread_time()
                await asyncio.sleep(seconds)
                used[enabled] = time.thread_time() - start
        finally:
            rig.close()
    per_s = (used[True] - used[False]) / seconds
    print(f"== CPU of the bagging scale (event-loop thread, {seconds:g} s each): on {used[True]:.2f} s, off "
          f"{used[False]:.2f} s -> {100 * per_s:.2f} % of a core; {1000 * per_s * visit_s:.0f} ms per visit "
          f"(median honest visit {visit_s:.0f} s)")


async def _until(predicate, timeout_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout_s):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.01)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=10_000)
    parser.add_argument("--dishonest", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--cpu-seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    visit_s = detection(args.visits, args.dishonest, args.seed)
    with tempfile.TemporaryDirectory() as work:
        if args.calls:
            asyncio.run(reading_to_call(args.calls, Path(work) / "calls"))
        if args.cpu_seconds:
            asyncio.run(cpu(args.cpu_seconds, Path(work) / "cpu", visit_s))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
