"""Start-up and idle footprint of the daemon: exec to READY=1, RSS after READY, the unit's exposure score.

    .venv/bin/python bench/startup.py [--runs 10]

Figures are printed beside a baseline measured in the same run: `python -c "import sqlite3, asyncio"`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from simulators.doubles.ports import free_port

ROOT = Path(__file__).resolve().parents[1]


def baseline_s() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import sqlite3, asyncio"], check=True)
    return time.perf_counter() - started


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else float("nan")


def one_start(workdir: Path) -> tuple[float, float]:
    """Seconds from exec to READY=1, and RSS in MB one second after READY."""
    config = workdir / "agent.toml"
    state = workdir / "state"
    shutil.rmtree(state, ignore_errors=True)
    token = workdir / "cloud.token"
    token.write_text("t")
    token.chmod(0o600)
    # A lane as deployed: broker and catalog configured (here unreachable: READY must not wait for them).
    config.write_text(f'[agent]\nstore_id = "s"\nlane_id = "l"\nstate_dir = "{state}"\n'
                      f'[api]\nlisten = "127.0.0.1:{free_port()}"\n'
                      f'[mqtt]\nhost = "127.0.0.1"\nport = {free_port()}\n'
                      f'[catalog]\nurl = "http://127.0.0.1:{free_port()}/catalog"\ntoken_file = "{token}"\n')
    sock_path = workdir / "notify.sock"
    sock_path.unlink(missing_ok=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(sock_path))
        sock.settimeout(20)
        env = {**os.environ, "NOTIFY_SOCKET": str(sock_path)}
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "agent", "run", "--config", str(config)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while b"READY=1" not in sock.recv(4096):
            pass
        ready = time.perf_counter() - started
        time.sleep(1.0)
        rss = rss_mb(proc.pid)
        proc.terminate()
        proc.wait(10)
    return ready, rss


def exposure() -> str:
    if shutil.which("systemd-analyze") is None:
        return "n/a (systemd-analyze missing)"
    with tempfile.TemporaryDirectory() as tmp:
        unit = Path(tmp) / "omo-edge.service"
        unit.write_text((ROOT / "systemd" / "omo-edge.service").read_text())
        out = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit)],
                             capture_output=True, text=True).stdout
    match = re.search(r"Overall exposure level for omo-edge.service: (\S+ \S+)", out)
    return match.group(1) if match else "unknown"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        starts = [one_start(Path(tmp)) for _ in range(runs)]
    base = statistics.median(baseline_s() for _ in range(runs))
    ready = statistics.median(s for s, _ in starts)
    rss = statistics.median(r for _, r in starts)
    print(f"startup: exec to READY=1 median of {runs}: {ready * 1000:.0f} ms "
          f"(baseline python -c 'import sqlite3, asyncio': {base * 1000:.0f} ms; ratio {ready / base:.1f}x; "
          f"target < 1000 ms)")
    print(f"startup: idle RSS after READY: {rss:.1f} MB (target < 60 MB)")
    print(f"startup: systemd-analyze security exposure: {exposure()} (target <= 2.0)")


if __name__ == "__main__":
    main()
