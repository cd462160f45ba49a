"""Fixtures that run the real agent: a config writer, a systemd notify socket, the daemon as a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from simulators.ports import free_port


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_toml(sections: dict[str, Any]) -> str:
    """Write a config document: tables, and lists of tables as [[name]]."""
    lines: list[str] = []
    for name, body in sections.items():
        for table in body if isinstance(body, list) else [body]:
            lines.append(f"[[{name}]]" if isinstance(body, list) else f"[{name}]")
            lines += [f"{key} = {toml_value(value)}" for key, value in table.items()]
            lines.append("")
    return "\n".join(lines)


class NotifySocket:
    """A real AF_UNIX datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[str] = []

    def wait_for(self, field: str, timeout_s: float = 10.0) -> str:
        """Block until a datagram containing the line `field` (e.g. "READY=1") arrives; return that datagram."""
        deadline = time.monotonic() + timeout_s
        for message in self.messages:
            if field in message.splitlines():
                self.messages.remove(message)
                return message
        while (remaining := deadline - time.monotonic()) > 0:
            self.sock.settimeout(remaining)
            try:
                message = self.sock.recv(4096).decode()
            except TimeoutError:
                break
            if field in message.splitlines():
                return message
            self.messages.append(message)
        raise TimeoutError(f"no {field} within {timeout_s} s; got {self.messages}")

    def wait_for_line_starting(self, prefix: str, timeout_s: float = 10.0) -> str:
        """Block until a datagram has a line starting with `prefix` (e.g. a STATUS= line); return that line."""
        deadline = time.monotonic() + timeout_s
        while True:
            for message in self.messages:
                for line in message.splitlines():
                    if line.startswith(prefix):
                        self.messages.remove(message)
                        return line
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no line starting {prefix!r} within {timeout_s} s; got {self.messages}")
            self.sock.settimeout(remaining)
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                continue

    def close(self) -> None:
        self.sock.close()


class AgentProcess:
    """`omo-edge run` as a real child process, as systemd would start it."""

    def __init__(self, config_path: Path, notify: NotifySocket, env: dict[str, str]) -> None:
        self.config_path = config_path
        self.notify = notify
        self.log_path = config_path.with_suffix(".log")
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "agent", "run", "--config", str(config_path)],
                                     stdout=self._log, stderr=subprocess.STDOUT, env=env)

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def stop(self, timeout_s: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    sock = NotifySocket(tmp_path / "notify.sock")
    yield sock
    sock.close()


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a minimal valid config (state in tmp_path, API on a free loopback port), overridable per section."""

    def write(name: str = "agent.toml", **sections: Any) -> Path:
        base: dict[str, Any] = {
            "agent": {"store_id": "store-001", "lane_id": "lane-01", "state_dir": str(tmp_path / "state")},
            "api": {"listen": f"127.0.0.1:{free_port()}"},
        }
        for key, value in sections.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                base[key] = {**base[key], **value}
            else:
                base[key] = value
        path = tmp_path / name
        path.write_text(render_toml(base))
        return path

    return write


@pytest.fixture
def start_agent(notify_socket: NotifySocket) -> Iterator[Callable[..., AgentProcess]]:
    """Start the daemon with a real NOTIFY_SOCKET (and a watchdog), wait for READY=1."""
    started: list[AgentProcess] = []

    def start(config_path: Path, watchdog_usec: int = 400_000, wait_ready: bool = True) -> AgentProcess:
        env = {**os.environ, "NOTIFY_SOCKET": str(notify_socket.path), "WATCHDOG_USEC": str(watchdog_usec),
               "PYTHONUNBUFFERED": "1"}
        env.pop("WATCHDOG_PID", None)
        process = AgentProcess(config_path, notify_socket, env)
        started.append(process)
        if wait_ready:
            try:
                notify_socket.wait_for("READY=1", timeout_s=15)
            except TimeoutError:
                process.stop()
                raise AssertionError(f"agent never became ready; output:\n{process.output}") from None
        return process

    yield start
    for process in started:
        process.stop()
