"""Power-cut trials: the daemon sells through its pty scanner and the simulated payment with its state directory
on the power-loss layer; at a random instant it is killed (-9) and the layer cut; it restarts on what survived.

Used by tests/test_power_cut.py (50 trials) and bench/soak_power.py (1,000, and the synchronous=NORMAL control).
After each cut a copy of the disk's lane.db must pass `PRAGMA integrity_check`, have no seq gap in its outbox and
hold every sale the API answered `paid` or the screen showed paid. Every tenth restart, and at the end, the
daemon runs until quiet: every sale in lane.db is at the ingest exactly once, the ingest has no seq gap up to
lane.db's last seq, and no payment intent is left open (docs/testing-power-loss.md).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulators.fixtures.shop import ingest_payloads
from simulators.fixtures.sync import IngestProcess
from simulators.lanes.power import FINAL, PowerLane

STARTUP_CUTS = 0.1            # the share of trials cut while the daemon starts
STARTUP_S = 1.5               # about how long a start takes here, READY included


@dataclass
class Figures:
    synchronous: str
    trials: int = 0
    reported_paid: int = 0
    lost: set[str] = field(default_factory=set)        # reported paid, then missing from lane.db after a cut
    corrupt: int = 0                                     # cuts after which lane.db failed its integrity check
    moved_aside: int = 0                                 # (or the daemon moved one aside as corrupt)
    cuts_discarding: int = 0                             # cuts that discarded unsynced writes
    writes_discarded: int = 0
    startup_cuts: int = 0                                # trials cut while the daemon was starting
    shown_only: int = 0                                  # sales the screen showed paid, the API's answer cut off
    seq_gaps: int = 0                                    # cuts after which lane.db's outbox had a seq gap
    cut_mid_payment: int = 0                             # cuts that left a payment intent open on the disk
    lane_sales: int = 0
    ingest_sales: int = 0
    problems: list[str] = field(default_factory=list)   # the final checks that failed
    settles: int = 0                                     # times the lane was let go quiet and checked
    settled_at: int = 0                                  # the trial of the last time
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"synchronous={self.synchronous}: {self.trials} trials in {self.seconds:.0f} s, "
                f"{self.reported_paid} sales reported paid, {len(self.lost)} lost, {self.corrupt} corrupt, "
                f"{self.seq_gaps} with seq gaps\n"
                f"  {self.startup_cuts} cut while starting; {self.cuts_discarding} cuts discarded "
                f"{self.writes_discarded} unsynced writes; {self.cut_mid_payment} left a payment open; "
                f"{self.shown_only} paid sales seen only on the screen\n"
                f"  lane.db {self.lane_sales} sales, ingest {self.ingest_sales}; checks when quiet ({self.settles}): "
                f"{'; '.join(self.problems[:5]) or 'OK'}")


def trial(lane: PowerLane, ingest: IngestProcess, rng: random.Random, figures: Figures, reported: set[str],
          max_run_s: float, settle_every: int) -> None:
    """One power cut: start on what survived, sell, kill -9 at a random instant, cut, check the disk.

    One trial in ten cuts the power while the daemon is still starting (recovering the WAL, migrating, settling
    the payments the last cut left open) instead."""
    if rng.random() < STARTUP_CUTS:
        agent = lane.spawn()
        killer = threading.Timer(rng.uniform(0.0, STARTUP_S), agent.proc.kill)
        killer.start()
        killer.join()
        paid: list[str] = []
        figures.startup_cuts += 1
    else:
        lane.start()
        if figures.trials >= figures.settled_at + settle_every:
            settle(lane, ingest, figures, reported, timeout_s=120)
        assert lane.agent is not None
        killer = threading.Timer(rng.uniform(0.0, max_run_s), lane.agent.proc.kill)
        killer.start()
        try:
            paid = lane.sell_until(time.monotonic() + max_run_s + 30)
        finally:
            killer.join()
    cut, shown = lane.kill_and_cut()
    figures.reported_paid += len((set(paid) | shown) - reported)
    figures.shown_only += len(shown - set(paid) - reported)
    reported.update(paid, shown)
    figures.cuts_discarding += not cut.startswith("files=0 writes=0")
    figures.writes_discarded += int(cut.split("writes=")[1].split()[0])
    survived = lane.survivors()
    if survived.integrity != "ok" or survived.moved_aside > figures.moved_aside:
        figures.corrupt += 1
        figures.problems.append(f"trial {figures.trials}: lane.db {survived.integrity}, "
                                f"{survived.moved_aside} moved aside as corrupt so far")
    figures.moved_aside = survived.moved_aside
    if survived.seq_gaps:
        figures.seq_gaps += 1
    figures.cut_mid_payment += survived.open_intents > 0
    figures.lost |= reported - survived.sales
    figures.trials += 1


def settle(lane: PowerLane, ingest: IngestProcess, figures: Figures, reported: set[str], timeout_s: float) -> None:
    """With the daemon running and nobody shopping, wait until the outbox has drained and every payment is final,
    then check lane.db against the ingest; every check that fails is recorded with the trial's number."""
    def delivered() -> bool:
        last_seq = int(lane.query("SELECT last_seq FROM outbox_lane")[0][0])
        lane_sales = int(lane.query("SELECT count(*) FROM sales")[0][0])
        streams = ingest.report_streams()
        return max((int(s["max_seq"]) for s in streams.values()), default=0) >= last_seq and \
            len(ingest_payloads(ingest, "omo.sale/1")) >= lane_sales

    when = f"after trial {figures.trials}"
    try:
        lane.wait(delivered, "the outbox to drain", timeout_s)
        lane.wait(lambda: not open_intents(lane), "every payment intent to be final", timeout_s)
    except TimeoutError as exc:
        figures.problems.append(f"{when}: {str(exc).splitlines()[0]}")
    sales = {r[0] for r in lane.query("SELECT sale_id FROM sales")}
    at_ingest = Counter(p["sale_id"] for p in ingest_payloads(ingest, "omo.sale/1"))
    figures.lane_sales, figures.ingest_sales = len(sales), sum(at_ingest.values())
    figures.problems += [f"{when}: {problem}" for problem in check(reported, sales, at_ingest, ingest, lane)]
    figures.settles += 1
    figures.settled_at = figures.trials


def open_intents(lane: PowerLane) -> list[tuple[Any, ...]]:
    return lane.query(f"SELECT payment_id, state FROM payment_intents WHERE state NOT IN {FINAL!r}")


def check(reported: set[str], sales: set[str], at_ingest: Counter[str], ingest: IngestProcess,
          lane: PowerLane) -> list[str]:
    """What is wrong once the lane is quiet: a reported sale not in lane.db, a sale not at the ingest exactly
    once, a seq gap, a stream too many, a payment left open."""
    problems: list[str] = []
    if reported - sales:
        problems.append(f"{len(reported - sales)} sales reported paid are not in lane.db")
    if twice := [s for s, n in at_ingest.items() if n > 1]:
        problems.append(f"{len(twice)} sales at the ingest more than once")
    if missing := sales - set(at_ingest):
        problems.append(f"{len(missing)} sales of lane.db never reached the ingest")
    if extra := set(at_ingest) - sales:
        problems.append(f"{len(extra)} sales at the ingest are not in lane.db (lost by the lane after delivery)")
    streams = ingest.report_streams()
    last_seq = lane.query("SELECT last_seq FROM outbox_lane")[0][0]
    if len(streams) != 1:
        problems.append(f"{len(streams)} streams at the ingest (lane.db recreated)")
    for stream in streams.values():
        if stream["gaps"]:
            problems.append(f"seq gaps at the ingest: {stream['gaps'][:10]}")
        if stream["max_seq"] != last_seq:
            problems.append(f"the ingest's highest seq {stream['max_seq']} != lane.db's last seq {last_seq}")
    if still_open := open_intents(lane):
        problems.append(f"payment intents left open: {still_open[:5]}")
    return problems


def campaign(work: Path, broker_port: int, ingest: IngestProcess, trials: int, seed: int,
             synchronous: str = "FULL", max_run_s: float = 1.0, settle_every: int = 10,
             progress: bool = False) -> Figures:
    """`trials` power cuts on one lane, then the final checks; the figures say what was lost."""
    rng, figures, reported = random.Random(seed), Figures(synchronous), set[str]()
    started = time.monotonic()
    lane = PowerLane(work, broker_port, synchronous)
    try:
        for n in range(trials):
            trial(lane, ingest, rng, figures, reported, max_run_s, settle_every)
            if progress and (n + 1) % 25 == 0:
                print(f"  {n + 1} trials, {figures.reported_paid} reported paid, {len(figures.lost)} lost, "
                      f"{figures.corrupt} corrupt, {time.monotonic() - started:.0f} s", flush=True)
        lane.start()
        settle(lane, ingest, figures, reported, timeout_s=120)
    finally:
        lane.close()
    figures.seconds = time.monotonic() - started
    return figures
