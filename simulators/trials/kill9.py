"""kill -9 trials: a lane process streaming sales and scans is killed at random instants, then restarted.

Used by tests/test_sync_kill9.py (20 trials) and bench/soak_kill9.py (100+). The check afterwards:
every sale committed in lane.db is held once by the ingest, seq is gap-free, integrity_check is ok.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path


def lane_command(state_dir: Path, port: int, mode: str) -> list[str]:
    return [sys.executable, "-m", "simulators.lanes.writer", "--state-dir", str(state_dir), "--port", str(port),
            "--mode", mode, "--pause", "0.001"]


def one_trial(state_dir: Path, port: int, rng: random.Random, max_run_s: float = 0.6) -> set[str]:
    """Start the lane, let it stream for a random time, SIGKILL it; return the sales it said were committed."""
    process = subprocess.Popen(lane_command(state_dir, port, "stream"), stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if line.strip() != "started":
        process.kill()
        raise RuntimeError(f"lane did not start: {line!r}")
    time.sleep(rng.uniform(0.0, max_run_s))
    process.send_signal(signal.SIGKILL)
    out, _ = process.communicate(timeout=10)
    process.stdout.close()
    return {part.split()[1] for part in out.splitlines() if part.startswith("sale ") and len(part.split()) == 3}


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def drain(state_dir: Path, port: int, timeout_s: float = 120) -> None:
    result = subprocess.run(lane_command(state_dir, port, "drain"), capture_output=True, text=True, timeout=timeout_s)
    if "drained" not in result.stdout:
        raise RuntimeError(f"drain did not finish: {result.stdout[-500:]} {result.stderr[-2000:]}")


def committed_sales(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT event_id FROM sales")}
    finally:
        conn.close()


def last_seq(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT last_seq FROM outbox_lane").fetchone()[0])
    finally:
        conn.close()
