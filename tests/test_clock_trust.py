"""Clock trust from the kernel: adjtimex's verdict (every NTP daemon sets it), timesyncd's flag as the fallback,
and what it changes: a member token that expired ten minutes ago is refused once the kernel says the clock is
synchronised, and the scan and session events say whether the clock was trusted."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import pytest

from agent.api.events import EventHub
from agent.api.server import ApiServer
from agent.api.settings import ApiSection
from agent.app import watch_clock
from agent.clock import (
    STA_UNSYNC,
    TIME_ERROR,
    TIMESYNCD_FLAG,
    ClockTrust,
    KernelClock,
    clock_trust,
    judge_clock,
    read_kernel_clock,
)
from agent.health import HealthRegistry
from simulators.cloud.store_catalog import MEMBER
from simulators.doubles.ports import free_port
from simulators.fixtures.secrets import sweep_secrets
from simulators.fixtures.session import SessionLane

STA_PLL, STA_NANO = 0x0001, 0x2000
# Values as the kernel reports them: chrony locked (TIME_OK, PLL + nanosecond mode, maxerror 26 ms); the same
# with a leap second announced (TIME_INS); a box no daemon disciplines (TIME_ERROR, STA_UNSYNC, maxerror at the
# kernel's 16 s cap: what this machine's kernel says); a daemon not heard from for hours (maxerror 9 s).
CHRONY_LOCKED = KernelClock(state=0, status=STA_PLL | STA_NANO, maxerror_us=26_000)
LEAP_PENDING = KernelClock(state=1, status=STA_PLL | 0x0010, maxerror_us=1_500)
NO_DAEMON = KernelClock(state=TIME_ERROR, status=STA_UNSYNC | STA_NANO, maxerror_us=16_000_000)
STALE = KernelClock(state=0, status=STA_PLL, maxerror_us=9_000_000)


@pytest.fixture(autouse=True)
def no_secret_is_written_down(request: pytest.FixtureRequest) -> None:
    """Every journey here ends with the card-data sweep: lane.db, its WAL, the log, the outbox, the screen."""
    sweep_secrets(request)


@pytest.mark.parametrize(("kernel", "flag", "synchronised", "source"), [
    (CHRONY_LOCKED, False, True, "kernel"),
    (LEAP_PENDING, False, True, "kernel"),
    (NO_DAEMON, False, False, "kernel"),
    (NO_DAEMON, True, False, "kernel"),        # the kernel wins over a flag file left from an earlier sync
    (STALE, False, False, "kernel"),
    (KernelClock(state=TIME_ERROR, status=STA_PLL, maxerror_us=1000), False, False, "kernel"),
    (None, True, True, "timesyncd"),           # the kernel could not be asked: timesyncd's word
    (None, False, False, "none"),
])
def test_the_verdict_follows_the_kernel_then_the_flag(kernel: KernelClock | None, flag: bool, synchronised: bool,
                                                      source: str) -> None:
    verdict = judge_clock(kernel, flag)
    assert (verdict.synchronised, verdict.source) == (synchronised, source)
    assert verdict.reason and ("max_error_ms" in verdict.details()) == (kernel is not None)


def test_a_real_adjtimex_call_reads_the_kernels_state() -> None:
    kernel = read_kernel_clock()
    assert kernel is not None, "adjtimex could not be called on this Linux machine"
    assert kernel.maxerror_us >= 0
    if kernel.status & STA_UNSYNC:
        assert kernel.state == TIME_ERROR           # the kernel's own rule (kernel/time/ntp.c is_error_status)
    again = read_kernel_clock()
    assert again is not None and again.status == kernel.status, "a read-only call changed the kernel's status"
    assert clock_trust() == judge_clock(kernel, False) or not TIMESYNCD_FLAG.exists()


def trust(kernel: KernelClock) -> bool:
    return judge_clock(kernel, flag_present=True).synchronised


async def scan_member_expired_ten_minutes_ago(lane: SessionLane, kernel: KernelClock) -> dict[str, object]:
    assert lane.pipeline is not None and lane.controller is not None
    lane.pipeline.clock_trusted = lane.controller.clock_trusted = lambda: trust(kernel)
    token = lane.issuer.member(MEMBER, now=time.time() - 900, ttl_s=300)     # exp: ten minutes ago
    await lane.scan(token, "qr")
    return lane.events("omo.scan/1")[-1]


async def test_a_member_token_expired_ten_minutes_ago_is_refused_when_the_kernel_says_synchronised(
        session_lane: SessionLane) -> None:
    scan = await scan_member_expired_ten_minutes_ago(session_lane, CHRONY_LOCKED)
    assert (scan["outcome"], scan["reason"], scan["clock_trusted"]) == ("rejected", "expired", True)
    assert session_lane.view["member"] is None and not session_lane.events("omo.session/1")


async def test_on_an_unsynchronised_clock_it_gets_the_allowance_and_every_event_says_so(
        session_lane: SessionLane) -> None:
    scan = await scan_member_expired_ten_minutes_ago(session_lane, NO_DAEMON)
    assert (scan["kind"], scan["outcome"], scan["clock_trusted"]) == ("member", "accepted", False)
    events = {e["event"]: e for e in session_lane.events("omo.session/1")}
    assert events["member_identified"]["clock_trusted"] is False and events["started"]["clock_trusted"] is False


async def test_a_product_scan_on_a_synchronised_clock_is_trusted(session_lane: SessionLane) -> None:
    from simulators.cloud.store_catalog import TEA
    assert session_lane.pipeline is not None and session_lane.controller is not None
    session_lane.pipeline.clock_trusted = session_lane.controller.clock_trusted = lambda: trust(CHRONY_LOCKED)
    await session_lane.scan(TEA)
    assert session_lane.events("omo.scan/1")[-1]["clock_trusted"] is True
    assert session_lane.events("omo.session/1")[-1]["clock_trusted"] is True


async def test_the_local_health_shows_the_clocks_state(tmp_path: Path) -> None:
    health = HealthRegistry("t")
    trusted = watch_clock(health)
    verdict: ClockTrust = clock_trust()
    port = free_port()
    server = ApiServer(ApiSection(listen=f"127.0.0.1:{port}"), health, EventHub())
    await server.start()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http, \
                http.get(f"http://127.0.0.1:{port}/v1/health") as response:
            report = await response.json()
    finally:
        await server.stop()
    clock = report["components"]["clock"]
    assert trusted() is verdict.synchronised
    assert clock["state"] == ("ok" if verdict.synchronised else "degraded")
    assert clock["details"]["synchronised"] is verdict.synchronised and clock["details"]["source"] == verdict.source
    if not verdict.synchronised:
        assert report["status"] != "ok" and "not synchronised" in clock["reason"] + clock["details"]["reason"]
