"""The daemon as systemd runs it: a real child process talking to a real NOTIFY_SOCKET."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulators.fixtures.daemon import AgentProcess, NotifySocket


def health(config_text: str) -> dict[str, Any]:
    listen = next(line.split('"')[1] for line in config_text.splitlines() if line.startswith("listen"))
    with urllib.request.urlopen(f"http://{listen}/v1/health", timeout=5) as response:  # noqa: S310 (loopback)
        result: dict[str, Any] = json.load(response)
        return result


def test_ready_is_sent_once_the_database_is_open_and_health_answers(
        write_config: Callable[..., Path], start_agent: Callable[..., AgentProcess], tmp_path: Path) -> None:
    config = write_config()
    agent = start_agent(config)
    assert (tmp_path / "state" / "lane.db").exists()
    deadline = time.monotonic() + 10
    while (report := health(config.read_text()))["components"]["catalog"]["state"] == "starting":
        assert time.monotonic() < deadline, report
        time.sleep(0.05)
    assert report["status"] == "degraded", "no catalog loaded yet: the lane runs but says so"
    assert "no catalog" in report["components"]["catalog"]["reason"]
    assert report["version"]
    assert report["uptime_s"] >= 0
    assert all(report["components"][name]["state"] == "ok" for name in ("store", "api", "pipeline"))
    assert agent.proc.poll() is None


def test_ready_carries_a_status_line_naming_the_lane(write_config: Callable[..., Path],
                                                     notify_socket: NotifySocket,
                                                     start_agent: Callable[..., AgentProcess]) -> None:
    start_agent(write_config(), wait_ready=False)
    message = notify_socket.wait_for("READY=1", timeout_s=15)
    assert "STATUS=serving lane store-001/lane-01" in message
    assert any(line.startswith("MAINPID=") for line in message.splitlines())


def test_watchdog_pings_come_at_half_the_interval(write_config: Callable[..., Path],
                                                  notify_socket: NotifySocket,
                                                  start_agent: Callable[..., AgentProcess]) -> None:
    start_agent(write_config(), watchdog_usec=400_000)   # pings every 0.2 s
    started = time.monotonic()
    for _ in range(5):
        notify_socket.wait_for("WATCHDOG=1", timeout_s=2)
    elapsed = time.monotonic() - started
    assert 0.6 <= elapsed <= 2.0, elapsed


def test_sigterm_sends_stopping_and_exits_0_within_5_seconds(write_config: Callable[..., Path],
                                                              notify_socket: NotifySocket,
                                                              start_agent: Callable[..., AgentProcess]) -> None:
    agent = start_agent(write_config())
    started = time.monotonic()
    agent.signal(signal.SIGTERM)
    notify_socket.wait_for("STOPPING=1", timeout_s=5)
    assert agent.proc.wait(5) == 0
    assert time.monotonic() - started < 5
    assert "agent stopped" in agent.output


def test_sighup_reloads_and_names_what_needs_a_restart(write_config: Callable[..., Path],
                                                        notify_socket: NotifySocket,
                                                        start_agent: Callable[..., AgentProcess]) -> None:
    config = write_config()
    agent = start_agent(config)
    text = config.read_text()
    config.write_text(text.replace('lane_id = "lane-01"', 'lane_id = "lane-02"') + '\n[payment]\nadapter = "x"\n')
    agent.signal(signal.SIGHUP)
    notify_socket.wait_for("RELOADING=1", timeout_s=5)
    notify_socket.wait_for("READY=1", timeout_s=5)
    assert "reload: changes to agent.lane_id, payment.adapter take effect after a restart" in agent.output
    assert health(text)["components"]["api"]["state"] == "ok"


def test_sighup_names_every_changed_key_that_needs_a_restart_and_none_applied_live(
        write_config: Callable[..., Path], notify_socket: NotifySocket,
        start_agent: Callable[..., AgentProcess]) -> None:
    """[session], [interpret] and the disk limits are read once at start: a reload must say so, key by key,
    while the log level (applied live) is not named."""
    config = write_config(agent={"log_level": "info", "shed_scans_free_mb": 256},
                          session={"inactivity_timeout_s": 180, "max_lines": 200})
    agent = start_agent(config)
    text = config.read_text()
    config.write_text(text.replace("inactivity_timeout_s = 180", "inactivity_timeout_s = 60")
                      .replace('log_level = "info"', 'log_level = "debug"')
                      .replace("shed_scans_free_mb = 256", "shed_scans_free_mb = 512")
                      + "\n[interpret]\nunsynced_skew_s = 600\n")
    agent.signal(signal.SIGHUP)
    notify_socket.wait_for("RELOADING=1", timeout_s=5)
    notify_socket.wait_for("READY=1", timeout_s=5)
    assert ("reload: changes to agent.shed_scans_free_mb, interpret.unsynced_skew_s, session.inactivity_timeout_s "
            "take effect after a restart (systemctl restart omo-edge)") in agent.output


def test_sighup_with_a_broken_config_keeps_running_on_the_old_one(write_config: Callable[..., Path],
                                                                   notify_socket: NotifySocket,
                                                                   start_agent: Callable[..., AgentProcess]) -> None:
    config = write_config()
    agent = start_agent(config)
    text = config.read_text()
    config.write_text(text + "\n[agent.bogus]\n")
    agent.signal(signal.SIGHUP)
    notify_socket.wait_for("READY=1", timeout_s=5)
    assert "reload refused, keeping the running configuration" in agent.output
    assert health(text)["components"]["api"]["state"] == "ok"


def test_bad_config_exits_2_before_anything_starts(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[agent]\nstore_id = "s"\nlane_id = "l"\nstate_dir = "relative"\n')
    result = subprocess.run([sys.executable, "-m", "agent", "run", "--config", str(path)], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2
    assert "[agent] state_dir: must be an absolute path" in result.stderr
    assert not (tmp_path / "relative").exists()


def test_the_api_can_listen_on_a_unix_socket(write_config: Callable[..., Path],
                                            start_agent: Callable[..., AgentProcess], tmp_path: Path) -> None:
    sock = tmp_path / "run" / "api.sock"
    config = write_config(api={"listen": f"unix:{sock}"})
    start_agent(config)
    result = subprocess.run([sys.executable, "-m", "agent", "status", "--config", str(config)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("store store-001  lane lane-01  status degraded")
    assert oct(sock.stat().st_mode & 0o777) == "0o660"


def test_unknown_routes_answer_json_with_a_detail(write_config: Callable[..., Path],
                                                  start_agent: Callable[..., AgentProcess]) -> None:
    config = write_config()
    start_agent(config)
    listen = next(line.split('"')[1] for line in config.read_text().splitlines() if line.startswith("listen"))
    try:
        urllib.request.urlopen(f"http://{listen}/v1/nothing", timeout=5)  # noqa: S310 (loopback)
        raise AssertionError("expected 404")
    except urllib.error.HTTPError as error:
        assert error.code == 404
        assert json.loads(error.read()) == {"detail": "Not Found"}


def test_a_corrupt_lane_database_is_moved_aside_and_health_says_so(
        write_config: Callable[..., Path], start_agent: Callable[..., AgentProcess], tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "lane.db").write_bytes(b"\x00garbage" * 1000)
    config = write_config()
    agent = start_agent(config)
    store = health(config.read_text())["components"]["store"]
    assert store["state"] == "degraded"
    assert "lane.db was corrupt and was moved aside to" in store["reason"]
    assert list(state.glob("lane.db.corrupt-*"))
    assert "failed its integrity check" in agent.output


def test_status_line_tells_systemd_when_a_device_goes_down(write_config: Callable[..., Path],
                                                           notify_socket: NotifySocket,
                                                           start_agent: Callable[..., AgentProcess],
                                                           tmp_path: Path) -> None:
    config = write_config(devices=[{"name": "handheld", "driver": "serial", "port": str(tmp_path / "no-such-tty")}])
    agent = start_agent(config)
    line = notify_socket.wait_for_line_starting("STATUS=down; ", timeout_s=10)
    assert "device:handheld down: DeviceUnavailable: " in line and "no-such-tty" in line
    assert health(config.read_text())["components"]["device:handheld"]["state"] == "down"
    assert agent.proc.poll() is None, "a device fault never stops the daemon"


def test_a_notify_socket_nobody_reads_never_blocks_the_agent(write_config: Callable[..., Path],
                                                              notify_socket: NotifySocket,
                                                              start_agent: Callable[..., AgentProcess]) -> None:
    agent = start_agent(write_config(), watchdog_usec=20_000)   # 100 pings a second, none read
    time.sleep(1.0)
    started = time.monotonic()
    assert agent.stop(timeout_s=5) == 0
    assert time.monotonic() - started < 5
