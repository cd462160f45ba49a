"""A cloud for the fleet on this machine: one mosquitto and k reference ingests on one shared subscription.

Used when `omo-edge simulate fleet` is given no broker, and by bench/fleet.py. Each ingest is its own process
(as a cloud would run several), with its own client ID, on `$share/ingest/...`; all write one database: a
SQLite file by default, or PostgreSQL when given a DSN. `cpu_seconds()` reads the processes' CPU time from
/proc, so a bench can say what each part costs per event.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from simulators.cloud.broker import MosquittoBroker

READY_TIMEOUT_S = 20


@dataclass
class LocalCloud:
    broker: MosquittoBroker
    database: str
    ingests: list[subprocess.Popen[str]] = field(default_factory=list)

    def cpu_seconds(self) -> dict[str, float]:
        """User+system CPU seconds so far of the broker and of all the ingests together."""
        assert self.broker.process is not None
        return {"broker": process_cpu_seconds(self.broker.process.pid),
                "ingest": sum(process_cpu_seconds(p.pid) for p in self.ingests if p.poll() is None)}


def _stat(pid: int | str) -> list[str]:
    """/proc/<pid>/stat's fields after the command name (field 3 onwards: state, ppid, ...)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, from /proc/<pid>/stat (fields 14 and 15, in clock ticks)."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree_cpu_seconds(root: int) -> float:
    """CPU seconds of a server and its children (PostgreSQL's backends), the ended ones included."""
    fields = _stat(root)
    total = sum(int(x) for x in fields[11:15])   # utime, stime, and the reaped children's cutime, cstime
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                child = _stat(entry.name)
            except OSError:   # ended meanwhile
                continue
            if int(child[1]) == root:
                total += int(child[11]) + int(child[12])
    return total / os.sysconf("SC_CLK_TCK")


def start_ingest(broker: MosquittoBroker, database: str, number: int) -> subprocess.Popen[str]:
    """One reference ingest process; returns once it says `ready` (subscribed), or raises with its output."""
    process = subprocess.Popen([sys.executable, "-m", "simulators.cloud.ingest", "--port", str(broker.port),
                                "--db", database, "--client-id", f"ingest-{number}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline().strip()   # the ingest exits by itself if not subscribed within 15 s
    if line != "ready":
        process.kill()
        _, errors = process.communicate(timeout=10)
        raise RuntimeError(f"ingest {number} did not start: {line} {errors[-1500:]}")
    return process


@contextlib.contextmanager
def local_cloud(workdir: Path, *, ingests: int = 1, database: str | None = None) -> Iterator[LocalCloud]:
    """mosquitto plus `ingests` ingest processes writing `database` (default: workdir/ingest.db)."""
    broker = MosquittoBroker(workdir / "broker", lanes=())
    broker.start()
    cloud = LocalCloud(broker, database or str(workdir / "ingest.db"))
    try:
        for number in range(1, ingests + 1):
            cloud.ingests.append(start_ingest(broker, cloud.database, number))
        yield cloud
    finally:
        for process in cloud.ingests:
            process.terminate()
            process.wait(10)
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
        broker.stop()
