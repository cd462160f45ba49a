"""The supervisor: a failing component is restarted with back-off and logged once down, once recovered."""

from __future__ import annotations

import asyncio
import logging

import pytest

from agent.health import ComponentHealth, HealthRegistry, State
from agent.supervise import Backoff, Supervisor
from simulators.doubles.clock import FakeClock
from simulators.doubles.waiting import wait_until

NO_JITTER = Backoff(initial_s=1, max_s=8, factor=2, jitter=0, reset_after_s=60)


async def test_a_failing_component_is_restarted_with_growing_back_off(caplog: pytest.LogCaptureFixture) -> None:
    health = HealthRegistry("t")
    clock = FakeClock(autoadvance=True)
    attempts = 0
    recovered = asyncio.Event()

    async def flaky(h: ComponentHealth) -> None:
        nonlocal attempts
        attempts += 1
        if attempts <= 5:
            raise OSError("scanner unplugged")
        h.ok()
        recovered.set()
        await asyncio.Event().wait()

    supervisor = Supervisor(health, backoff=NO_JITTER, clock=clock)  # type: ignore[arg-type]
    caplog.set_level(logging.INFO)
    supervisor.start("device:x", flaky)
    async with asyncio.timeout(5):
        await recovered.wait()
    assert clock.sleeps == [1, 2, 4, 8, 8]
    assert health.component("device:x").counters["restarts"] == 5
    down_lines = [r for r in caplog.records if "component device:x down" in r.getMessage()]
    assert len(down_lines) == 1, "logged once down, not once per retry"
    assert "OSError: scanner unplugged" in down_lines[0].getMessage()
    assert sum("component device:x recovered" in r.getMessage() for r in caplog.records) == 1
    await supervisor.stop_all()


async def test_other_components_keep_running_while_one_fails() -> None:
    health = HealthRegistry("t")
    ticks = 0

    async def broken(h: ComponentHealth) -> None:
        raise RuntimeError("always")

    async def steady(h: ComponentHealth) -> None:
        nonlocal ticks
        h.ok()
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    supervisor = Supervisor(health, backoff=Backoff(initial_s=0.001, max_s=0.002))
    supervisor.start("broken", broken)
    supervisor.start("steady", steady)
    await wait_until(lambda: ticks > 10 and health.component("broken").counters.get("restarts", 0) >= 3, 5, 0.001)
    assert ticks > 10
    assert health.component("broken").state == State.DOWN
    assert health.component("steady").state == State.OK
    assert health.overall() == State.DOWN
    await supervisor.stop_all()


async def test_components_stop_in_reverse_start_order() -> None:
    health = HealthRegistry("t")
    stopped: list[str] = []

    def component(name: str):  # type: ignore[no-untyped-def]
        async def run(h: ComponentHealth) -> None:
            try:
                await asyncio.Event().wait()
            finally:
                stopped.append(name)
        return run

    supervisor = Supervisor(health)
    for name in ("store", "relay", "device:a"):
        supervisor.start(name, component(name))
    await asyncio.sleep(0)
    await supervisor.stop_all()
    assert stopped == ["device:a", "relay", "store"]
    assert health.component("relay").state == State.STOPPED


def test_back_off_is_capped_and_jittered() -> None:
    backoff = Backoff(initial_s=1, max_s=60, factor=2, jitter=0.2)
    delays = [backoff.delay(n) for n in range(1, 12)]
    assert all(0.8 <= d <= 72 for d in delays)
    assert max(delays) <= 60 * 1.2
    assert delays[-1] >= 60 * 0.8


async def test_a_components_probe_goes_in_when_the_supervisor_starts_it() -> None:
    health = HealthRegistry("t")
    supervisor = Supervisor(health, backoff=NO_JITTER)
    seen: list[ComponentHealth] = []

    async def component(h: ComponentHealth) -> None:
        seen.append(h)
        await asyncio.Event().wait()

    supervisor.start("disk", component, probe=lambda: {"disk_free_mb": 512})
    try:
        # Read before the component's first turn: the probe is there from the start, not from inside run().
        assert health.component("disk").snapshot()["details"] == {"disk_free_mb": 512}
        await wait_until(lambda: bool(seen), 5, 0.001)
        assert seen == [health.component("disk")]
    finally:
        await supervisor.stop_all()
