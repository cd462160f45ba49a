"""Lane lights: the loader and its option errors, the bytes on the wire, a visit's colours, unplug and reopen.

The drivers run unchanged against simulators on real ptys that parse what they write (simulators/devices/light.py).
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable
from pathlib import Path

import pytest

from drivers import lights, plugins
from drivers.base import DeviceUnavailable, DriverOptionError, UnavailableReason
from drivers.hid_light import HidLight, reports
from drivers.lights import Signal, open_light
from drivers.relay_serial import RelaySerialLight, frame
from simulators.devices.light import Lamp, VirtualHidLight, VirtualRelayBoard, settled

GREEN, YELLOW, RED = frozenset({"green"}), frozenset({"yellow"}), frozenset({"red"})


def showing(lit: frozenset[str]) -> Callable[[list[Lamp]], bool]:
    """A timeline whose last change lit exactly `lit`."""
    return lambda lamps: bool(lamps) and lamps[-1].lit == lit


def test_built_in_lights_are_found_without_reading_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_metadata(**_: object) -> list[object]:
        raise AssertionError("entry points were read for a built-in light")

    monkeypatch.setattr(plugins, "entry_points", no_metadata)
    assert lights.load("relay_serial") is RelaySerialLight and lights.load("hid_light") is HidLight


def test_an_unknown_light_names_those_there_are() -> None:
    with pytest.raises(lights.UnknownLight, match=r"no light driver named 'beacon'\. Fix: use one of .*hid_light"):
        open_light("beacon", {})


@pytest.mark.parametrize(("driver", "options", "key", "words"), [
    ("relay_serial", {}, "port", "needs port"),
    ("relay_serial", {"port": "/dev/x", "red": 9}, "red", "use 1 to 4"),
    ("relay_serial", {"port": "/dev/x", "relays": 8, "red": 9}, "red", "use 1 to 8"),
    ("relay_serial", {"port": "/dev/x", "yellow": 1}, "yellow", "relay 1 is already green"),
    ("relay_serial", {"port": "/dev/x", "buzzer": 3}, "buzzer", "relay 3 is already red"),
    ("relay_serial", {"port": "/dev/x", "green": "1"}, "green", "expected an integer"),
    ("relay_serial", {"port": "/dev/x", "flash_hz": 2}, "flash_hz", "has no option 'flash_hz'"),
    ("hid_light", {}, "path", "needs path"),
    ("hid_light", {"path": "/dev/hidraw0", "port": "/dev/x"}, "port", "has no option 'port'"),
])
def test_a_bad_option_is_refused_naming_the_key_and_the_fix(driver: str, options: dict[str, object], key: str,
                                                            words: str) -> None:
    with pytest.raises(DriverOptionError) as caught:
        open_light(driver, options)
    assert caught.value.key == key and words in str(caught.value) and "Fix:" in str(caught.value)


def test_relay_frames_carry_the_checksum_byte_for_byte() -> None:
    assert frame(1, True) == bytes.fromhex("A0 01 01 A2")
    assert frame(1, False) == bytes.fromhex("A0 01 00 A1")
    assert frame(3, True) == bytes.fromhex("A0 03 01 A4")
    assert frame(0x70, True) == bytes.fromhex("A0 70 01 11")        # the sum wraps at 0xFF


async def test_the_board_gets_exactly_these_frames_and_a_bad_checksum_moves_no_relay(
        relay_board_sim: VirtualRelayBoard) -> None:
    async with open_light("relay_serial", {"port": relay_board_sim.path}) as light:
        await relay_board_sim.until(lambda _: len(relay_board_sim.frames) == 3)
        await light.show(Signal.GREEN)
        await relay_board_sim.until(lambda _: len(relay_board_sim.frames) == 6)
    wire = b"".join(relay_board_sim.frames)
    assert wire[:24] == bytes.fromhex("A00100A1 A00200A2 A00300A3"      # opened: every colour dark
                                      "A00200A2 A00300A3 A00101A2")     # green: the others dark first, then green
    assert relay_board_sim.bad_frames == []

    board = VirtualRelayBoard()
    try:
        async with open_light("relay_serial", {"port": board.path}):
            await board.until(lambda _: len(board.frames) == 3)
            with open(board.slave_path, "wb", buffering=0) as port:          # noqa: ASYNC230 - 8 bytes to a pty
                port.write(bytes.fromhex("A0 01 01 A3") + bytes.fromhex("A0 02 01 A3"))
            await board.until(lambda _: len(board.frames) == 4)
        assert board.bad_frames == [bytes.fromhex("A0 01 01 A3")] and board.state[0] is False
    finally:
        board.close()


def _yellow_toggles(lamps: list[Lamp]) -> list[Lamp]:
    start = next(i for i, lamp in enumerate(lamps) if lamp.lit == YELLOW)
    return [lamp for lamp in lamps[start:] if lamp.lit in (YELLOW, frozenset())]


async def test_a_visit_with_one_call_on_the_relay_board_flashes_yellow_at_1_hz_then_shows_steady_green(
        relay_board_sim: VirtualRelayBoard) -> None:
    async with open_light("relay_serial", {"port": relay_board_sim.path}) as light:
        await light.show(Signal.GREEN)
        await relay_board_sim.until(showing(GREEN))
        await asyncio.sleep(0.3)                         # the shopper scans a while
        await light.show(Signal.YELLOW_FLASHING)
        await relay_board_sim.until(lambda lamps: sum(lamp.lit == YELLOW for lamp in lamps) >= 3, within_s=10)
        await asyncio.sleep(0.25)                        # staff answer, partway into the third flash
        await light.show(Signal.GREEN)
        seen = await relay_board_sim.until(showing(GREEN))
        await asyncio.sleep(1.2)                         # longer than a flash period: nothing toggles any more
        raw = relay_board_sim.lamps()
    assert raw == seen, "steady green: the flashing stopped"
    lamps = settled(raw)
    states = [lamp.lit for lamp in lamps]
    assert states[0] == GREEN and states[-1] == GREEN
    flashing = states[1:-1]
    assert flashing[0] == YELLOW and set(flashing) == {YELLOW, frozenset()}
    assert all(a != b for a, b in zip(flashing, flashing[1:], strict=False)), "yellow toggles, on and off"
    assert sum(s == YELLOW for s in flashing) >= 3
    toggles = _yellow_toggles(lamps[:-1])
    gaps = [b.at - a.at for a, b in zip(toggles, toggles[1:], strict=False)]
    assert 0.35 < statistics.median(gaps) < 0.8 and all(0.2 < gap < 1.5 for gap in gaps), gaps   # 1 Hz: 0.5 s a half


async def test_a_visit_with_one_call_on_the_hid_light_uses_its_own_flash_mode_at_1_hz(
        hid_light_sim: VirtualHidLight) -> None:
    async with open_light("hid_light", {"path": hid_light_sim.path}) as light:
        await light.show(Signal.GREEN)
        await hid_light_sim.until(showing(GREEN))
        await light.show(Signal.YELLOW_FLASHING)
        await hid_light_sim.until(showing(YELLOW))
        period = hid_light_sim.period_s("yellow")
        await light.show(Signal.GREEN)
        lamps = await hid_light_sim.until(showing(GREEN))
    assert [(lamp.lit, lamp.flashing) for lamp in lamps] == [(GREEN, frozenset()), (YELLOW, YELLOW),
                                                             (GREEN, frozenset())]
    assert period == 1.0
    assert hid_light_sim.bad_reports == []


def test_hid_reports_byte_for_byte() -> None:
    assert reports(Signal.YELLOW_FLASHING) == [bytes.fromhex(h) for h in (
        "65 13 0A 00 00 00 00 00",      # prescaler: a 10 ms tick
        "65 17 32 32 00 00 00 00",      # P1.2 duty cycle: 50 ticks dark, 50 lit
        "65 14 00 04 00 00 00 00",      # flash P1.2
        "65 0C 04 03 00 00 00 00",      # P1.2 low (lit), P1.0 and P1.1 high (dark)
        "65 14 03 00 00 00 00 00")]     # P1.0 and P1.1 stop flashing
    assert reports(Signal.RED) == [bytes.fromhex("65 0C 02 05 00 00 00 00"), bytes.fromhex("65 14 07 00 00 00 00 00")]
    assert reports(Signal.OFF)[0] == bytes.fromhex("65 0C 00 07 00 00 00 00")


@pytest.mark.parametrize("kind", ["relay_serial", "hid_light"])
async def test_an_unplugged_light_raises_device_unavailable_and_a_reopen_shows_the_signal_asked_for_meanwhile(
        kind: str, relay_board_sim: VirtualRelayBoard, hid_light_sim: VirtualHidLight) -> None:
    sim = relay_board_sim if kind == "relay_serial" else hid_light_sim
    light = open_light(kind, {"port": sim.path} if kind == "relay_serial" else {"path": sim.path})
    async with light:
        await light.show(Signal.GREEN)
        await sim.until(showing(GREEN))
        sim.unplug()
        with pytest.raises(DeviceUnavailable) as gone:
            await light.show(Signal.RED)
        with pytest.raises(DeviceUnavailable):
            await light.show(Signal.RED)          # still gone: no write is tried on a closed port
    assert gone.value.reason is UnavailableReason.UNPLUGGED and "went away" in str(gone.value)
    with pytest.raises(DeviceUnavailable) as absent:
        async with light:
            pass
    assert absent.value.reason is UnavailableReason.NOT_FOUND
    sim.replug()
    async with light:                               # the supervisor's reopen: no show() call
        lamps = await sim.until(showing(RED))
        assert lamps[-1].lit == RED
    await sim.until(showing(frozenset()))          # closed: dark, not a stale colour


async def test_a_board_unplugged_while_flashing_is_reported_by_the_next_show(
        relay_board_sim: VirtualRelayBoard) -> None:
    async with open_light("relay_serial", {"port": relay_board_sim.path}) as light:
        await light.show(Signal.YELLOW_FLASHING)
        await relay_board_sim.until(showing(YELLOW))
        relay_board_sim.unplug()
        await asyncio.sleep(1.2)                     # the flasher's next toggle finds the board gone
        with pytest.raises(DeviceUnavailable) as gone:
            await light.show(Signal.YELLOW_FLASHING)
    assert gone.value.reason is UnavailableReason.UNPLUGGED


async def test_the_buzzer_relay_sounds_once_when_help_is_asked(relay_board_sim: VirtualRelayBoard) -> None:
    async with open_light("relay_serial", {"port": relay_board_sim.path, "buzzer": 4, "buzzer_ms": 100}) as light:
        await light.show(Signal.GREEN)
        await light.show(Signal.YELLOW_FLASHING)
        await relay_board_sim.until(lambda lamps: any("buzzer" in lamp.lit for lamp in lamps))
        await relay_board_sim.until(lambda _: relay_board_sim.state[3] is False)
    assert relay_board_sim.frames.count(bytes.fromhex("A0 04 01 A5")) == 1


async def test_a_light_that_is_not_there_cannot_be_opened(tmp_path: Path) -> None:
    with pytest.raises(DeviceUnavailable) as absent:
        async with open_light("hid_light", {"path": str(tmp_path / "hidraw9")}):
            pass
    assert absent.value.reason is UnavailableReason.NOT_FOUND and "Fix:" in str(absent.value)
