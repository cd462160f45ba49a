"""RabbitMQ with its MQTT plugin (Debian 12's 3.10: MQTT 3.1.1 only) as a throwaway node on free 127.0.0.1 ports.

Its own node name, Mnesia directory, logs, Erlang cookie and plugin file under `directory`, so it touches
nothing of a system RabbitMQ. Starting a node takes about ten seconds: the interop test that uses it is marked
slow. `kill()` is kill -9 of the whole node.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

from simulators.cloud.broker import end_process, wait_listening
from simulators.doubles.ports import free_port

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


def rabbitmq_path() -> Path | None:
    """Debian's rabbitmq-server (apt-get install rabbitmq-server), or None (the test skips, saying so)."""
    return SERVER if SERVER.exists() and shutil.which("erl") else None


class RabbitMqBroker:
    def __init__(self, directory: Path) -> None:
        if rabbitmq_path() is None:
            raise FileNotFoundError("rabbitmq-server is not installed: apt-get install rabbitmq-server")
        self.directory, self.host = directory, "127.0.0.1"
        self.port, amqp, dist = free_port(), free_port(), free_port()
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "enabled_plugins").write_text("[rabbitmq_mqtt].\n")
        (directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{amqp}\nmqtt.listeners.tcp.default = 127.0.0.1:{self.port}\n"
            "mqtt.allow_anonymous = true\nloopback_users = none\nlog.console = true\nlog.file = false\n")
        self.env = {**os.environ, "HOME": str(directory), "RABBITMQ_NODENAME": f"omo{self.port}@localhost",
                    "RABBITMQ_DIST_PORT": str(dist), "RABBITMQ_MNESIA_BASE": str(directory / "mnesia"),
                    "RABBITMQ_LOG_BASE": str(directory / "log"),
                    "RABBITMQ_ENABLED_PLUGINS_FILE": str(directory / "enabled_plugins"),
                    "RABBITMQ_CONFIG_FILE": str(directory / "rabbitmq"),
                    "RABBITMQ_PLUGINS_EXPAND_DIR": str(directory / "plugins-expand")}
        self.log = directory / "rabbitmq.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60.0) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        log = self.log.open("ab")
        self.process = subprocess.Popen([str(SERVER)], env=self.env, stdout=log, stderr=log, start_new_session=True)
        log.close()
        wait_listening(self.process, self.host, self.port, self.log, "rabbitmq-server", timeout_s, 0.2)

    def stop(self) -> None:
        end_process(self.process, signal.SIGTERM, group=True, timeout_s=30)

    def kill(self) -> None:
        end_process(self.process, signal.SIGKILL, group=True, timeout_s=30)
