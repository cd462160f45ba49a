"""The systemd notify protocol (READY, WATCHDOG, STATUS, STOPPING) over $NOTIFY_SOCKET, without a C library.

The watchdog is fed from a task on the event loop, so a blocked loop stops the pings and systemd restarts us.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket

logger = logging.getLogger(__name__)


class Notifier:
    """Sends datagrams to systemd; does nothing when not started by systemd (no NOTIFY_SOCKET)."""

    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        self._address = ("\0" + address[1:]) if address and address.startswith("@") else address
        self._sock: socket.socket | None = None
        if self._address:
            # Non-blocking: if systemd (or a test) stops reading, a full queue must never stall the event loop;
            # the message is dropped instead (the next watchdog ping or status replaces it).
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, *lines: str) -> None:
        if self._sock is None or self._address is None:
            return
        try:
            self._sock.sendto("\n".join(lines).encode(), self._address)
        except OSError as exc:  # systemd gone or its queue full (EAGAIN): never fatal, never blocking
            logger.debug("sd_notify failed: %s", exc)

    def ready(self, status: str) -> None:
        self.send("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")

    def status(self, status: str) -> None:
        self.send(f"STATUS={status}")

    def stopping(self, status: str = "stopping") -> None:
        self.send("STOPPING=1", f"STATUS={status}")

    def reloading(self) -> None:
        self.send("RELOADING=1", "STATUS=reloading configuration")

    def watchdog_interval_s(self) -> float | None:
        """Half of WATCHDOG_USEC, when systemd asked for pings for this very process."""
        usec = os.environ.get("WATCHDOG_USEC")
        pid = os.environ.get("WATCHDOG_PID")
        if not usec or (pid and pid != str(os.getpid())):
            return None
        try:
            return int(usec) / 2_000_000
        except ValueError:
            return None

    async def feed_watchdog(self) -> None:
        """Ping WATCHDOG=1 at half the interval until cancelled."""
        interval = self.watchdog_interval_s()
        if interval is None or not self.enabled:
            return
        while True:
            self.send("WATCHDOG=1")
            await asyncio.sleep(interval)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


# Becoming ready also settles the heap for a long-running lane: the start-up heap frozen, young collections
# rarer.
# Why: during a drain the loop thread allocates a few objects per message (paho's message info, the relay's
# bookkeeping), and CPython's default thresholds then ran a full collection every few seconds. Each one held
# the GIL for 10-20 ms, which was the largest remaining part of scan-to-commit p99 (bench/drain.py). Freezing
# what start-up made (modules, config, catalog handles: it lives as long as the process) keeps full
# collections short; a larger first threshold makes them rarer. Cycles are still collected.
GC_GEN0_THRESHOLD = 10_000


def settle_heap() -> None:
    """Call once start-up is done (the daemon before READY=1; the test and bench harness likewise)."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)
