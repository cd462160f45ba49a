"""A real mosquitto on a free 127.0.0.1 port, with persistence off, for outage and security tests.

The plain listener is open (anonymous); the optional TLS listener requires a client certificate whose
CN becomes the user name (`use_identity_as_username`), and an ACL file keeps each lane to its own topics.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from simulators.cloud.certs import LanePki
from simulators.doubles.ports import free_port

MOSQUITTO_PATHS = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


def mosquitto_path() -> str | None:
    """Where mosquitto is, or None (tests then skip with that reason)."""
    found = shutil.which("mosquitto")
    return found or next((p for p in MOSQUITTO_PATHS if Path(p).exists()), None)


def acl_text(prefix: str, lanes: Sequence[tuple[str, str]], ingest_user: str = "ingest",
             stores: Sequence[str] = (), stations: Sequence[tuple[str, str]] = ()) -> str:
    """Each lane may write its own topics and read its acks, commands and store catalog; ingest reads all.

    A store's bridge (`{store}.bridge`, docs/operations/store-bridge.md) may do the same for every lane of its
    store and nothing for another store's. An attendant station (`{store}.{station}`, docs/attendant.md) reads
    its store's lane status and its own replies and writes its store's attendant commands, nothing else; each
    lane writes its attendant status and the replies, and reads its attendant commands.
    """
    lines = [f"user {ingest_user}", f"topic read {prefix}/#", f"topic write {prefix}/+/+/acks", ""]
    for store in stores:
        base = f"{prefix}/{store}/+"
        lines += [f"user {store}.bridge", f"topic write {base}/scans", f"topic write {base}/sales",
                  f"topic write {base}/sessions", f"topic write {base}/status", f"topic read {base}/acks",
                  f"topic read {base}/commands", f"topic read {prefix}/{store}/catalog", ""]
    for store, station in stations:
        lines += station_acl(prefix, store, station)
    for store, lane in lanes:
        base = f"{prefix}/{store}/{lane}"
        lines += [f"user {store}.{lane}", f"topic write {base}/scans", f"topic write {base}/sales",
                  f"topic write {base}/sessions", f"topic write {base}/status", f"topic read {base}/acks",
                  f"topic read {base}/commands", f"topic read {prefix}/{store}/catalog",
                  f"topic write {base}/attendant/status", f"topic read {base}/attendant/commands",
                  f"topic write {prefix}/{store}/attendant/+/replies", ""]
    return "\n".join(lines)


def station_acl(prefix: str, store: str, station: str) -> list[str]:
    """The mosquitto ACL lines of one attendant station (docs/attendant.md quotes them)."""
    return [f"user {store}.{station}", f"topic read {prefix}/{store}/+/attendant/status",
            f"topic read {prefix}/{store}/+/status", f"topic write {prefix}/{store}/+/attendant/commands",
            f"topic read {prefix}/{store}/attendant/{station}/replies", ""]


class MosquittoBroker:
    """Start, stop, restart or kill -9 one mosquitto process; `.port` (plain) and `.tls_port` stay fixed."""

    def __init__(self, directory: Path, *, pki: LanePki | None = None, prefix: str = "omo/v1",
                 lanes: Sequence[tuple[str, str]] = (("store-001", "lane-01"),), stores: Sequence[str] = (),
                 stations: Sequence[tuple[str, str]] = ()) -> None:
        exe = mosquitto_path()
        if exe is None:
            raise FileNotFoundError("mosquitto is not installed: apt-get install mosquitto")
        self.exe = exe
        self.directory = directory
        self.host = "127.0.0.1"
        self.port = free_port()
        self.tls_port = free_port() if pki else None
        self.pki = pki
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)
        self.log = directory / "mosquitto.log"
        self.conf = directory / "mosquitto.conf"
        (directory / "acl").write_text(acl_text(prefix, lanes, stores=stores, stations=stations))
        self.conf.write_text(self._config())

    def _config(self) -> str:
        lines = ["per_listener_settings true", "persistence false", "log_type error", "log_type warning",
                 "log_dest stderr", "set_tcp_nodelay true", "max_inflight_messages 0", "max_queued_messages 100000",
                 f"listener {self.port} 127.0.0.1", "allow_anonymous true"]
        if os.geteuid() == 0:   # else mosquitto drops to its own user, who cannot read the test's temp files
            lines.insert(0, "user root")
        if self.pki and self.tls_port:
            lines += [f"listener {self.tls_port} 127.0.0.1", f"cafile {self.pki.ca.path}",
                      f"certfile {self.pki.server.cert}", f"keyfile {self.pki.server.key}",
                      "require_certificate true", "use_identity_as_username true",
                      f"acl_file {self.directory / 'acl'}"]
        return "\n".join(lines) + "\n"

    def start(self, timeout_s: float = 5.0) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        log = self.log.open("ab")
        self.process = subprocess.Popen([self.exe, "-c", str(self.conf)], stdout=log, stderr=log)
        log.close()
        wait_listening(self.process, self.host, self.port, self.log, "mosquitto", timeout_s)

    def stop(self) -> None:
        """A clean stop (SIGTERM)."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """kill -9: in-memory messages are gone, as after a power cut (persistence is off)."""
        self._end(signal.SIGKILL)

    def _end(self, sig: signal.Signals) -> None:
        end_process(self.process, sig)


def wait_listening(process: subprocess.Popen[bytes], host: str, port: int, log: Path, name: str,
                   timeout_s: float, poll_s: float = 0.02) -> None:
    """Return once a broker process accepts TCP on its port; its log's tail in the error if it exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited: {log.read_text()[-1500:]}")
        time.sleep(poll_s)
    raise TimeoutError(f"{name} did not listen on {port} within {timeout_s} s")


def end_process(process: subprocess.Popen[bytes] | None, sig: int, *, group: bool = False,
                timeout_s: float = 10.0) -> None:
    """Send `sig` (to the whole process group with `group`), then wait; kill -9 what does not end in time."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
        process.wait(timeout=timeout_s)
