"""amqtt, an MQTT 3.1.1 broker written in Python, on a free 127.0.0.1 port: the interop tests' broker that is not
mosquitto and does not speak MQTT 5 (it answers an MQTT 5 CONNECT with "unsupported protocol version").

Anonymous clients only, no persistence: `kill()` loses what it held in memory, as a power cut would.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from simulators.cloud.broker import end_process, wait_listening
from simulators.doubles.ports import free_port


def amqtt_path() -> Path | None:
    """The `amqtt` script next to this Python (installed with the dev extras), or None (tests skip, saying so)."""
    path = Path(sys.executable).parent / "amqtt"
    return path if path.exists() else None


class AmqttBroker:
    def __init__(self, directory: Path) -> None:
        exe = amqtt_path()
        if exe is None:
            raise FileNotFoundError("amqtt is not installed: pip install -e '.[dev]'")
        self.exe, self.directory = exe, directory
        self.host, self.port = "127.0.0.1", free_port()
        directory.mkdir(parents=True, exist_ok=True)
        self.conf, self.log = directory / "amqtt.yaml", directory / "amqtt.log"
        self.conf.write_text(f"listeners:\n  default:\n    type: tcp\n    bind: 127.0.0.1:{self.port}\n"
                             "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n"
                             "    allow_anonymous: true\n")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 15.0) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        log = self.log.open("ab")
        self.process = subprocess.Popen([str(self.exe), "-c", str(self.conf)], stdout=log, stderr=log)
        log.close()
        wait_listening(self.process, self.host, self.port, self.log, "amqtt", timeout_s, 0.05)

    def stop(self) -> None:
        end_process(self.process, signal.SIGTERM)

    def kill(self) -> None:
        end_process(self.process, signal.SIGKILL)
