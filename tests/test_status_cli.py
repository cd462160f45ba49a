"""`omo-edge status` for store IT: the address from the config or `--api`, and never another lane's health.

The health it reports names the store and lane; an answer from another lane's agent, or from a program that is
not an omo-edge agent, on this lane's address is refused rather than shown as this lane's.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.cli import main
from simulators.doubles.ports import free_port
from simulators.fixtures.daemon import AgentProcess

REPO = Path(__file__).resolve().parents[1]


def status(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["status", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def other_program() -> Iterator[tuple[int, list[bytes]]]:
    """An HTTP server on a free port that is not an omo-edge agent; the test sets the body it answers."""
    body: list[bytes] = [b"<html>router admin</html>"]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body[0])

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], body
    server.shutdown()
    server.server_close()


def test_health_and_status_name_the_store_and_lane(write_config: Callable[..., Path],
                                                   start_agent: Callable[..., AgentProcess],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(agent={"store_id": "store-9", "lane_id": "lane-4"})
    start_agent(config)
    code, out, err = status(capsys, "--config", str(config), "--json")
    assert code == 0, err
    health = json.loads(out)
    assert (health["store"], health["lane"]) == ("store-9", "lane-4")
    code, out, _ = status(capsys, "--config", str(config))
    assert code == 0 and out.splitlines()[0].startswith("store store-9  lane lane-4  status ")


def test_status_takes_the_address_with_api_when_the_config_cannot_be_read(
        write_config: Callable[..., Path], start_agent: Callable[..., AgentProcess], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(agent={"store_id": "store-9", "lane_id": "lane-4"})
    start_agent(config)
    listen = next(line.split('"')[1] for line in config.read_text().splitlines() if line.startswith("listen"))
    code, out, err = status(capsys, "--config", str(tmp_path / "absent.toml"), "--api", listen)
    assert code == 0, err
    assert out.startswith("store store-9  lane lane-4")


def test_a_missing_config_without_api_names_the_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = status(capsys, "--config", str(tmp_path / "absent.toml"))
    assert code == 2
    assert "config file not found" in err and "--api 127.0.0.1:8765" in err and "Traceback" not in err


def test_a_config_this_user_may_not_read_names_sudo_the_group_and_api(write_config: Callable[..., Path]) -> None:
    config = write_config()
    config.chmod(0o600)
    # As an admin outside group omo-edge would run it: root cannot be refused a read, so drop to nobody.
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    if prefix and shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to run as another user")
    if subprocess.run([*prefix, sys.executable, "-c", "import agent.cli"], capture_output=True, timeout=60,
                      cwd=REPO).returncode != 0:
        pytest.skip("this checkout is not readable by the unprivileged user")
    result = subprocess.run([*prefix, sys.executable, "-m", "agent", "status", "--config", str(config)],
                            capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 2, result.stderr
    assert "permission denied" in result.stderr and "sudo" in result.stderr
    assert "group omo-edge" in result.stderr and "--api" in result.stderr and "Traceback" not in result.stderr


def test_status_never_reads_the_secrets(write_config: Callable[..., Path], start_agent: Callable[..., AgentProcess],
                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config()
    start_agent(config)
    # An admin who is not root: the credentials directory is root's; status needs only [api] and [agent].
    config.write_text(config.read_text() + '[catalog]\nurl = "https://c.omo-mart.jp/c"\ntoken_file = "cloud.token"\n')
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    code, out, err = status(capsys, "--config", str(config))
    assert code == 0, err
    assert "store store-001  lane lane-01" in out


def test_another_lanes_agent_on_this_address_is_refused(write_config: Callable[..., Path],
                                                         start_agent: Callable[..., AgentProcess],
                                                         tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = write_config("other.toml", agent={"lane_id": "lane-02"})
    start_agent(other)
    listen = next(line.split('"')[1] for line in other.read_text().splitlines() if line.startswith("listen"))
    mine = write_config("mine.toml", api={"listen": listen})
    code, out, err = status(capsys, "--config", str(mine))
    assert code == 1 and out == ""
    assert "store-001/lane-02" in err and "store-001/lane-01" in err and "[api] listen" in err


@pytest.mark.parametrize("body", [b"<html>router admin</html>", b'{"status": "ok", "components": {}}'])
def test_a_program_that_is_not_this_agent_is_refused(write_config: Callable[..., Path],
                                                     other_program: tuple[int, list[bytes]], body: bytes,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    port, answer = other_program
    answer[0] = body
    config = write_config(api={"listen": f"127.0.0.1:{port}"})
    code, out, err = status(capsys, "--config", str(config))
    assert code == 1 and out == ""
    assert f"127.0.0.1:{port}" in err and "not this lane's agent" in err and "Traceback" not in err
