"""Control of one mount of the power-loss layer from a test, a fixture or the campaign.

    with PowerLossMount(backing, mountpoint) as layer:
        ...                       # run something with its files under `mountpoint`
        layer.cut()               # the power goes: unmounted, and the backing holds only what was synced
        layer.mount()             # the power is back: the same files, mounted again

Kill every process using the mount before `cut()`: a power cut stops them too, and a file still open
delays the unmount (the daemon then detaches the mount and aborts its connection).
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType

from simulators.powerloss.daemon import PIDFILE
from simulators.powerloss.journal import CONTROL


class PowerLossError(RuntimeError):
    """The layer could not mount or did not end as asked."""


def unavailable() -> str | None:
    """Why this machine cannot mount the layer, or None (the fixture skips with this reason)."""
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse (load the fuse module, or run the container with --device /dev/fuse)"
    if shutil.which("fusermount3") is None:
        return "fusermount3 is not installed (apt-get install fuse3, or run ./.ci/bootstrap test)"
    try:
        import mfusepy  # noqa: F401
    except (ImportError, OSError) as exc:
        return f"mfusepy cannot load libfuse3 ({exc}); pip install -e '.[dev]' and apt-get install libfuse3-3"
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        return "/dev/fuse is not usable by this user (the tests mount as root in CI)"
    return None


class PowerLossMount:
    """One layer over `backing` at `mountpoint`, served by its own process (simulators/powerloss/daemon.py)."""

    def __init__(self, backing: Path, mountpoint: Path) -> None:
        self.backing, self.mountpoint = backing, mountpoint
        self.process: subprocess.Popen[str] | None = None
        self.last_cut = ""

    @property
    def mounted(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def mount(self, timeout_s: float = 20.0) -> None:
        if self.mounted:
            raise PowerLossError(f"{self.mountpoint} is already mounted")
        self.backing.mkdir(parents=True, exist_ok=True)
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "simulators.powerloss", "serve", str(self.backing), str(self.mountpoint),
             "--until-stdin-closes"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self._line(timeout_s)
        if line != "mounted":
            self._abandon()
            raise PowerLossError(f"the layer did not mount {self.mountpoint}: {line!r}")

    def cut(self, timeout_s: float = 60.0) -> str:
        """The power goes: returns what was discarded (`files=… writes=… bytes=… names=…`)."""
        self.last_cut = self._end(signal.SIGUSR1, "cut ", timeout_s).removeprefix("cut ")
        return self.last_cut

    def unmount(self, timeout_s: float = 60.0) -> None:
        """A clean unmount: everything written stays."""
        self._end(signal.SIGUSR2, "unmounted", timeout_s)

    def _end(self, signum: int, expect: str, timeout_s: float) -> str:
        if not self.mounted or self.process is None:
            raise PowerLossError(f"{self.mountpoint} is not mounted")
        self.process.send_signal(signum)
        try:
            self.process.wait(timeout_s)      # stdin stays open until then: its end would mean "unmount"
        except subprocess.TimeoutExpired:
            self._abandon()
            raise PowerLossError(f"the layer at {self.mountpoint} did not end in {timeout_s} s") from None
        assert self.process.stdout is not None and self.process.stdin is not None
        out = self.process.stdout.read()
        self.process.stdout.close()
        self.process.stdin.close()
        last = out.strip().splitlines()[-1] if out.strip() else ""
        if not last.startswith(expect) or self.process.returncode != 0:
            raise PowerLossError(f"the layer at {self.mountpoint} ended with {last!r} ({self.process.returncode})")
        return last

    def _line(self, timeout_s: float) -> str:
        assert self.process is not None and self.process.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.process.stdout, selectors.EVENT_READ)
            if not sel.select(timeout_s):
                return f"nothing within {timeout_s} s"
        return self.process.stdout.readline().strip()

    def _abandon(self) -> None:
        """Last resort: kill the daemon and detach the mount so that nothing is left behind."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait(10)
            for pipe in (self.process.stdin, self.process.stdout):
                if pipe is not None:
                    pipe.close()
        if os.path.ismount(self.mountpoint):
            subprocess.run(["fusermount3", "-u", "-z", str(self.mountpoint)], capture_output=True)

    def close(self) -> None:
        """Unmount if still mounted (a clean unmount), whatever state the test left."""
        if self.mounted:
            try:
                self.unmount()
            except PowerLossError:
                self._abandon()
        self._abandon()

    def __enter__(self) -> PowerLossMount:
        self.mount()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def serving_pid(mountpoint: Path) -> tuple[int, Path]:
    """The daemon serving `mountpoint` and its pid file, which it removes when it is done (for the CLI's `cut`
    and `unmount` from another shell)."""
    target = os.path.realpath(mountpoint)
    with open("/proc/self/mountinfo") as mounts:
        for line in mounts:
            fields = line.split()
            sep = fields.index("-")
            if fields[4] == target and fields[sep + 2].startswith("powerloss:"):
                backing = Path(fields[sep + 2].removeprefix("powerloss:"))
                pidfile = backing / CONTROL / PIDFILE
                return int(pidfile.read_text()), pidfile
    raise PowerLossError(f"no power-loss layer is mounted at {target}")
