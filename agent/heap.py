"""Garbage-collector settings for a long-running lane: the start-up heap frozen, young collections rarer.

Why: during a drain the loop thread allocates a few objects per message (paho's message info, the relay's
bookkeeping), and CPython's default thresholds then ran a full collection every few seconds. Each one held
the GIL for 10-20 ms, which was the largest remaining part of scan-to-commit p99 (bench/drain.py). Freezing
what start-up made (modules, config, catalog handles: it lives as long as the process) keeps full
collections short; a larger first threshold makes them rarer. Cycles are still collected.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 10_000


def settle_after_start() -> None:
    """Call once start-up is done (the daemon before READY=1; the test and bench harness likewise)."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
