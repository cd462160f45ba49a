"""Every expected start-up failure of `omo-edge run` is one clean error naming the cause and the fix: no traceback.

What systemd's journal shows for a register that cannot start is all store IT has to go on; a traceback buries
the one useful line (a busy port gave about 35 lines before it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_agent(config: Path, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    return subprocess.run([*prefix, sys.executable, "-m", "agent", "run", "--config", str(config)],
                          capture_output=True, text=True, timeout=60, env=env, cwd=REPO)


def assert_clean(result: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert "Traceback" not in output, output
    for word in words:
        assert word in result.stderr, result.stderr
    return result.stderr


@pytest.fixture
def held_port() -> Iterator[int]:
    """A loopback port another process (this test) listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_a_busy_port_names_the_address_the_process_holding_it_and_the_key(
        write_config: Callable[..., Path], held_port: int) -> None:
    config = write_config(api={"listen": f"127.0.0.1:{held_port}"})
    err = assert_clean(run_agent(config), 1, f"127.0.0.1:{held_port}", "[api] listen", "in use")
    assert f"pid {os.getpid()}" in err
    assert len(err.strip().splitlines()) == 1


def test_a_state_dir_that_cannot_be_made_is_named_with_the_fix(write_config: Callable[..., Path],
                                                               tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    config = write_config(agent={"state_dir": str(tmp_path / "a-file" / "state")})
    assert_clean(run_agent(config), 1, "[agent] state_dir", str(tmp_path / "a-file" / "state"), "Fix:")


def test_a_state_dir_the_service_user_may_not_write_is_named_with_the_fix(write_config: Callable[..., Path]) -> None:
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("setpriv (util-linux) is needed to run as a user that root's permissions do not cover")
        prefix = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
        if subprocess.run([*prefix, sys.executable, "-c", "import agent.cli"], cwd=REPO,
                          capture_output=True, timeout=60).returncode != 0:
            pytest.skip("this checkout is not readable by the unprivileged user")
    # Outside pytest's own temporary tree, which only its owner may enter: the other user must reach the config.
    place = Path(tempfile.mkdtemp(prefix="omo-state-"))
    try:
        place.chmod(0o755)
        state = place / "state"
        state.mkdir(mode=0o555)
        config = place / "agent.toml"
        config.write_text(write_config().read_text().replace(str(write_config().parent / "state"), str(state)))
        config.chmod(0o644)
        assert_clean(run_agent(config, prefix), 1, "[agent] state_dir", str(state), "Fix:")
    finally:
        shutil.rmtree(place)


def test_a_missing_config_exits_2_without_a_traceback(tmp_path: Path) -> None:
    assert_clean(run_agent(tmp_path / "absent.toml"), 2, "config file not found")


def test_a_ca_file_that_is_not_pem_stops_run_before_anything_starts(write_config: Callable[..., Path],
                                                                     tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate\n")
    config = write_config(mqtt={"host": "127.0.0.1", "tls": True, "ca_file": str(ca)})
    assert_clean(run_agent(config), 2, "[mqtt] ca_file", "holds no PEM certificate", "Fix:")


def test_a_unix_socket_that_cannot_be_made_is_named_with_the_fix(write_config: Callable[..., Path],
                                                                 tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    config = write_config(api={"listen": f"unix:{tmp_path / 'a-file' / 'api.sock'}"})
    assert_clean(run_agent(config), 1, "[api] listen", "Fix:")
