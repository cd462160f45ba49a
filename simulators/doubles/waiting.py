"""Waiting for what another thread or process makes true, for tests and the simulators that drive a lane."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def wait_until(predicate: Callable[[], object], timeout_s: float, interval_s: float = 0.02) -> None:
    """Poll a condition that another thread or process makes true; raise TimeoutError after `timeout_s`."""
    async with asyncio.timeout(timeout_s):
        while True:
            if predicate():
                return
            await asyncio.sleep(interval_s)
