"""The process that holds one mount of the layer: `python -m simulators.powerloss serve BACKING MOUNTPOINT`.

libfuse runs in a thread; the main thread waits for a command, given by signal so that a shell can give it
too: SIGUSR1 cuts the power (unmount, then undo everything not durable), SIGUSR2 unmounts keeping
everything (a clean shutdown). With `--until-stdin-closes` the end of stdin is a clean unmount, so a test
that dies never leaves a mount behind. It prints `mounted`, then `cut <figures>` or `unmounted`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from simulators.powerloss.fs import PowerLossFS, serve
from simulators.powerloss.journal import Journal

PIDFILE = "serve.pid"


def unmount(mountpoint: Path, dev: int, timeout_s: float = 10.0) -> None:
    """fusermount3 -u; when something still holds a file open there, detach it and abort the connection."""
    if subprocess.run(["fusermount3", "-u", str(mountpoint)], capture_output=True).returncode == 0:
        return
    subprocess.run(["fusermount3", "-u", "-z", str(mountpoint)], capture_output=True)
    abort = Path(f"/sys/fs/fuse/connections/{os.minor(dev)}/abort")
    if abort.exists():
        abort.write_text("1")


def run(backing: Path, mountpoint: Path, until_stdin_closes: bool = False, ready_timeout_s: float = 15.0) -> int:
    journal = Journal(backing)
    fs = PowerLossFS(journal)
    commands: list[str] = []
    woken = threading.Event()

    def command(name: str) -> None:
        commands.append(name)
        woken.set()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        command("cut" if signum == signal.SIGUSR1 else "unmount")

    signal.signal(signal.SIGUSR1, on_signal)
    signal.signal(signal.SIGUSR2, on_signal)
    (journal.control / PIDFILE).write_text(str(os.getpid()))
    fuse = threading.Thread(target=serve, args=(backing, mountpoint, fs), name="fuse", daemon=True)
    fuse.start()
    deadline = time.monotonic() + ready_timeout_s
    while not (fs.mounted.is_set() and os.path.ismount(mountpoint)):
        if not fuse.is_alive() or time.monotonic() > deadline:
            print(f"mount failed: {mountpoint} over {backing}", flush=True)
            return 1
        fs.mounted.wait(0.01)
    dev = os.stat(mountpoint).st_dev
    if until_stdin_closes:
        def watch_stdin() -> None:
            sys.stdin.read()
            command("unmount")
        threading.Thread(target=watch_stdin, daemon=True).start()
    print("mounted", flush=True)
    while fuse.is_alive() and not commands:
        woken.wait(0.1)
    if commands:
        unmount(mountpoint, dev)
    fuse.join(30)
    if "cut" in commands:
        print(f"cut {journal.cut()}", flush=True)
    else:
        journal.settle()
        print("unmounted", flush=True)
    return 0
