"""A whole lane with a bagging-area scale, in this process: the agent (agent.app.start) on real files, a pty
scanner and a pty scale (SCP-01 over scale_physics), and a catalog of the given products with their weights.

The bagging tests and bench/bagging.py drive it: they scan codes on the scanner and put masses on the platter,
as a shopper's hands would; what the lane then does is theirs to check.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from agent import app
from agent.catalog.db import CatalogDb
from agent.catalog.load import load_snapshot
from agent.config import load
from simulators.cloud.catalog_data import write_lines
from simulators.devices.scale import VirtualScale
from simulators.devices.scale_physics import ScalePhysics
from simulators.devices.serial_pty import VirtualSerialScanner
from simulators.doubles.ports import free_port
from simulators.fixtures.daemon import render_toml

FAST = {"place_timeout_s": 3.0, "call_after_s": 2.0, "motion_timeout_s": 2.0}


class BaggingRig:
    """The lane's files, scanner and scale; `lane()` starts the agent over them (once at a time)."""

    def __init__(self, work: Path, products: Sequence[dict[str, Any]], *, physics: ScalePhysics | None = None,
                 rate_hz: int = 20) -> None:
        self.work, self.rate_hz = work, rate_hz
        state = work / "state"
        state.mkdir(parents=True)
        catalog = CatalogDb.open(state)
        load_snapshot(catalog, write_lines(work / "catalog.jsonl", list(products), version=1))
        catalog.close()
        self.scanner = VirtualSerialScanner("handheld")
        self.scale = VirtualScale("scp01", physics=physics or ScalePhysics(
            seed=3, settle_s=0.3, noise_mg=300, started_at=time.monotonic()))

    def config(self, **bagging: Any) -> Path:
        path = self.work / "agent.toml"
        scale = "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in
                                 {"driver": "scp01", **self.scale.options, "rate_hz": self.rate_hz}.items()) + " }"
        path.write_text(render_toml({
            "agent": {"store_id": "store-001", "lane_id": "lane-01", "state_dir": str(self.work / "state"),
                      "allow_simulators": True},
            "api": {"listen": f"127.0.0.1:{free_port()}"},
            "payment": {"adapter": "simulated"},
            "bagging": {"enabled": True, **bagging},
            "devices": [{"name": "handheld", "driver": "serial", "port": self.scanner.path}],
        }).replace("[bagging]\n", f"[bagging]\nscale = {scale}\n"))
        return path

    @contextlib.asynccontextmanager
    async def lane(self, **bagging: Any) -> AsyncIterator[app.Lane]:
        """The agent started, its scanner (and, unless `enabled = False`, its scale) connected."""
        lane = await app.start(load(self.config(**bagging)))
        components = ("device:handheld", "scale") if bagging.get("enabled", True) else ("device:handheld",)
        try:
            async with asyncio.timeout(15):
                while True:
                    if all(lane.health.component(c).state == "ok" for c in components):
                        break
                    await asyncio.sleep(0.05)
            yield lane
        finally:
            await app.stop(lane)

    def close(self) -> None:
        self.scanner.close()
        self.scale.close()
