"""Serial specifics the contract suite does not cover: busy ports, STX/ETX and baud pacing end to end, overflow."""

from __future__ import annotations

import asyncio

import pytest

from drivers.base import DeviceUnavailable, UnavailableReason
from drivers.serial import SerialScanner
from simulators.devices.serial_pty import VirtualSerialScanner, wire_time_s
from simulators.doubles.waiting import wait_until


async def test_a_port_another_program_holds_is_busy(serial_scanner_sim: VirtualSerialScanner) -> None:
    async with SerialScanner("one", {"port": serial_scanner_sim.path}):
        with pytest.raises(DeviceUnavailable) as busy:
            async with SerialScanner("two", {"port": serial_scanner_sim.path}):
                pass
    assert busy.value.reason is UnavailableReason.BUSY


async def test_stx_etx_frames_with_paced_bytes_at_the_configured_baud() -> None:
    with VirtualSerialScanner(stx_etx=True, suffix=b"\r\n", baudrate=115200) as sim:
        async with SerialScanner("h", {"port": sim.path, "baudrate": 115200, "stx_etx": True,
                                       "terminator": "none"}) as scanner:
            events = aiter(scanner.scans())
            loop = asyncio.get_running_loop()
            async with asyncio.timeout(5):
                sent = await loop.run_in_executor(None, sim.scan, "\x1d0104006381333931")   # paced: off the loop
                event = await anext(events)
    assert event.data == b"\x1d0104006381333931"
    assert event.raw == sent[:-2]            # STX ... ETX as received; the CRLF after ETX is not part of it
    assert scanner.counters()["failed_scan_count"] == 0
    assert wire_time_s(len(sent), 115200) < 0.01


async def test_when_the_agent_falls_behind_the_oldest_scans_are_dropped_and_counted(
        serial_scanner_sim: VirtualSerialScanner) -> None:
    async with SerialScanner("h", {"port": serial_scanner_sim.path, "bounce_ms": 0}) as scanner:
        serial_scanner_sim.send(b"".join(serial_scanner_sim.frame(f"{n:08d}") for n in range(100)))
        await wait_until(lambda: scanner.counters()["good_scan_count"] >= 100, 5, 0.01)
        async with asyncio.timeout(5):
            first = await anext(aiter(scanner.scans()))
    assert scanner.counters()["queue_overflow_count"] == 100 - 64
    assert first.text == f"{100 - 64:08d}"
