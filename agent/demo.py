"""`omo-edge demo`: a whole lane on this machine, with simulated devices, so anyone can watch it work.

The agent itself runs unchanged (`agent.app.start`); only its surroundings are simulated: the scanner is a
real pty driven by `simulators.serial_pty`, and the devices and the cloud the later parts of the demo use
are the same simulators the tests use.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent import app, log
from agent.config import Config, load

# What the shopper does at the lane: (pause before, code, AIM identifier, what it is).
SHOPPER_SCRIPT: tuple[tuple[float, str, str, str], ...] = (
    (0.5, "4901234567894", "]E0", "a packet of green tea (EAN-13)"),
    (0.6, "4901234567894", "]E0", "the same tea again (a second one)"),
    (0.6, "49012347", "]E4", "a chocolate bar (EAN-8)"),
    (0.6, "4901234567890", "]E0", "a misprinted label (bad check digit)"),
)


@dataclass
class DemoWorld:
    """Everything the demo starts around the agent."""

    workdir: Path
    config_path: Path
    scanner: Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(workdir: Path, scanner_path: str) -> Path:
    path = workdir / "agent.toml"
    path.write_text(f"""
[agent]
store_id = "store-demo"
lane_id = "lane-01"
state_dir = "{workdir / 'state'}"
log_level = "warning"

[api]
listen = "127.0.0.1:{free_port()}"

[[devices]]
name = "handheld"
driver = "serial"
port = "{scanner_path}"
""")
    return path


@contextlib.asynccontextmanager
async def demo_world() -> AsyncIterator[DemoWorld]:
    from simulators.serial_pty import VirtualSerialScanner

    with tempfile.TemporaryDirectory(prefix="omo-edge-demo-") as tmp, VirtualSerialScanner("handheld") as scanner:
        workdir = Path(tmp)
        yield DemoWorld(workdir=workdir, config_path=write_config(workdir, scanner.path), scanner=scanner)


def describe(event: dict[str, Any]) -> str:
    kind = event.get("kind", event.get("type", "event"))
    details = " ".join(f"{k}={v}" for k, v in event.items() if k not in ("type", "occurred_at") and v is not None)
    return f"  <- {kind:<10} {details}"


async def print_events(lane: app.Lane) -> None:
    queue = lane.hub.subscribe()
    try:
        while True:
            print(describe(await queue.get()), flush=True)
    finally:
        lane.hub.unsubscribe(queue)


async def shop(world: DemoWorld) -> None:
    for pause, code, aim, what in SHOPPER_SCRIPT:
        await asyncio.sleep(pause)
        print(f"shopper scans {what}: {code}", flush=True)
        world.scanner.scan(code, aim=aim)
    await asyncio.sleep(1.0)


async def run_demo(args: argparse.Namespace) -> int:
    async with demo_world() as world:
        config: Config = load(world.config_path)
        log.setup(config.agent.log_level, config.agent.log_format)
        lane = await app.start(config)
        print(f"omo-edge demo: lane {config.agent.store_id}/{config.agent.lane_id}, scanner on "
              f"{world.scanner.path} (a real pty), local API on http://{config.api.listen}/v1/health", flush=True)
        printer = asyncio.create_task(print_events(lane))
        try:
            await _wait_for_device(lane)
            await shop(world)
            if args.seconds:
                await asyncio.sleep(args.seconds)
            print(f"health: {lane.health.summary()}", flush=True)
        finally:
            printer.cancel()
            await app.stop(lane)
    return 0


async def _wait_for_device(lane: app.Lane, timeout_s: float = 10.0) -> None:
    """Start the shopper once the scanner is open, woken by the health registry rather than by polling."""
    changed = asyncio.Event()
    lane.health.listeners.append(lambda _health: changed.set())
    async with asyncio.timeout(timeout_s):
        while lane.health.component("device:handheld").state != "ok":
            await changed.wait()
            changed.clear()
