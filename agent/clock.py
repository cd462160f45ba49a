"""Time as a dependency, so that back-off, expiry and ages are tested by advancing a fake clock; and whether
the wall clock can be trusted (the kernel's NTP state), which the token checks and `/v1/health` need.

Every clock read on the session, sync and catalog paths goes through a `Clock`; tests pass
`simulators.doubles.clock.FakeClock` (fixture `fake_clock`) and advance it instead of sleeping.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol


class Clock(Protocol):
    """What components need to know about time."""

    def monotonic(self) -> float: ...
    def time(self) -> float: ...                 # wall clock, epoch seconds
    def now(self) -> datetime: ...               # wall clock, aware UTC
    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def rfc3339_ms(moment: datetime) -> str:
    """The contract's timestamp form: RFC 3339, UTC, milliseconds, `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


SYSTEM_CLOCK = SystemClock()


# --- Trust in the wall clock --------------------------------------------------------------------------------
# Whether the wall clock may be believed decides how strictly an app token's `exp` is checked
# (docs/interpretation.md, "Clock policy"). The kernel knows: every NTP daemon (chrony, ntpd, systemd-timesyncd)
# disciplines the clock through adjtimex(), which clears STA_UNSYNC and keeps `maxerror` small while the daemon
# is heard from; the kernel sets STA_UNSYNC again (and adjtimex answers TIME_ERROR) once `maxerror` has grown
# past 16 s without an update. timesyncd's flag file is only the fallback, for a kernel that cannot be asked
# (adjtimex refused by a sandbox, or not Linux).

TIME_ERROR = 5                 # adjtimex's return value when the clock is not synchronised
STA_UNSYNC = 0x0040            # status bit: the clock is not synchronised
MAX_ERROR_US = 5_000_000       # above this the clock is not trusted: the daemon has not spoken for hours
TIMESYNCD_FLAG = Path("/run/systemd/timesync/synchronized")


@dataclass(frozen=True, slots=True)
class KernelClock:
    """What a read-only adjtimex() said: its return value (the clock state), `status` and `maxerror` (µs)."""

    state: int
    status: int
    maxerror_us: int


@dataclass(frozen=True, slots=True)
class ClockTrust:
    """The verdict, with where it came from and why, for the scan path and `/v1/health`."""

    synchronised: bool
    source: str                  # "kernel" | "timesyncd" | "none"
    reason: str
    max_error_ms: float | None = None

    def details(self) -> dict[str, Any]:
        return {"synchronised": self.synchronised, "source": self.source, "reason": self.reason,
                **({} if self.max_error_ms is None else {"max_error_ms": self.max_error_ms})}


def judge_clock(kernel: KernelClock | None, flag_present: bool, max_error_us: int = MAX_ERROR_US) -> ClockTrust:
    """Pure: the kernel's word when it could be read, else timesyncd's flag, else not synchronised."""
    if kernel is None:
        if flag_present:
            return ClockTrust(True, "timesyncd", "the kernel could not be asked; timesyncd's flag file is there")
        return ClockTrust(False, "none", "the kernel could not be asked and timesyncd's flag file is absent")
    error_ms = round(kernel.maxerror_us / 1000, 3)
    if kernel.state == TIME_ERROR or kernel.status & STA_UNSYNC:
        return ClockTrust(False, "kernel", "the kernel says the clock is not synchronised (STA_UNSYNC): no NTP "
                          "daemon disciplines it; start chrony, ntpd or systemd-timesyncd", error_ms)
    if kernel.maxerror_us > max_error_us:
        return ClockTrust(False, "kernel", f"the kernel's maximum error is {error_ms:.0f} ms, over "
                          f"{max_error_us // 1000} ms: the NTP daemon has not been heard from lately", error_ms)
    return ClockTrust(True, "kernel", "synchronised (adjtimex)", error_ms)


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    """struct timex (<sys/timex.h>); the fields after `tai` are padding the kernel may write, so keep them."""

    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
                ("time", _Timeval), ("tick", ctypes.c_long), ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long),
                ("shift", ctypes.c_int), ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long),
                ("calcnt", ctypes.c_long), ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long),
                ("tai", ctypes.c_int), ("padding", ctypes.c_int * 11)]


@functools.cache
def _adjtimex() -> Any:
    path = ctypes.util.find_library("c")
    return None if path is None else getattr(ctypes.CDLL(path, use_errno=True), "adjtimex", None)


def read_kernel_clock() -> KernelClock | None:
    """adjtimex() with modes = 0, which only reads (no capability needed); None when the kernel cannot be asked
    (not Linux, or a sandbox refused the call: the systemd unit allows exactly this one of the @clock calls)."""
    try:
        call = _adjtimex()
    except OSError:
        return None
    if call is None:
        return None
    buf = _Timex(modes=0)
    state = call(ctypes.byref(buf))
    if state < 0:
        return None
    return KernelClock(state=int(state), status=int(buf.status), maxerror_us=int(buf.maxerror))


def clock_trust(flag: Path = TIMESYNCD_FLAG) -> ClockTrust:
    """The clock's trust now: one syscall (and a stat when the kernel cannot be asked), cheap enough per scan."""
    kernel = read_kernel_clock()
    return judge_clock(kernel, kernel is None and flag.exists())


def clock_synchronised(flag: Path = TIMESYNCD_FLAG) -> bool:
    return clock_trust(flag).synchronised
