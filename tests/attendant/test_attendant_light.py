"""The lane light follows the lane: green when free, flashing yellow while a call is open, red when locked; on a
relay board (drivers/relay_serial.py) read back by its pty simulator, with the real agent and mosquitto."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.cloud.broker import MosquittoBroker
from simulators.cloud.store_catalog import NOT_IN_CATALOG
from simulators.doubles.waiting import wait_until
from simulators.lanes.attendant_rig import Rig
from tests.attendant.test_attendant_lane import Station

light = pytest.importorskip("simulators.devices.light", reason="the lane lights (drivers/lights.py) are not here")
pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]


@pytest.fixture
def board() -> Iterator[object]:
    sim = light.VirtualRelayBoard()
    yield sim
    sim.close()


def colours(lamps: list[object]) -> list[str]:
    """What a person sees, in order: each lit colour once per stretch (a flashing lamp's dark half left out)."""
    seen: list[str] = []
    for lamp in lamps:
        for colour in sorted(lamp.lit):                                   # type: ignore[attr-defined]
            if not seen or seen[-1] != colour:
                seen.append(colour)
    return seen


async def test_a_visit_with_one_call_goes_green_yellow_green_then_red_when_locked(
        tmp_path: Path, mqtt_broker: MosquittoBroker, board: object) -> None:
    rig = Rig(tmp_path, mqtt_broker)
    station = Station(mqtt_broker.port, "5", rig.station_key)
    try:
        async with rig.lane(light={"driver": "relay_serial", "port": board.path}) as lane:   # type: ignore[attr-defined]
            await board.until(lambda lamps: colours(lamps) == ["green"])                    # type: ignore[attr-defined]
            await rig.call(lane, NOT_IN_CATALOG, "unknown_item")
            await board.until(lambda lamps: colours(lamps)[-1:] == ["yellow"])              # type: ignore[attr-defined]
            rig.scanner.scan(rig.issuer.staff("S-1"), aim="]Q1")
            await wait_until(lambda: not lane.session.session.pending, 10)
            await board.until(lambda lamps: colours(lamps)[-1:] == ["green"])               # type: ignore[attr-defined]
            assert (await station.command("lock", rig.issuer.staff("S-1")))["outcome"] == "applied"
            lamps = await board.until(lambda lamps: colours(lamps)[-1:] == ["red"])          # type: ignore[attr-defined]
            assert colours(lamps) == ["green", "yellow", "green", "red"]
            assert (await station.status(lambda s: s["light"] == "red"))["state"] == "out_of_order"
            # Unplugged: the lane goes on (the light degraded, not down); back in, it shows the state at once.
            board.unplug()                                                                  # type: ignore[attr-defined]
            assert (await station.command("unlock", rig.issuer.staff("S-1")))["outcome"] == "applied"
            await wait_until(lambda: lane.health.component("light").state == "degraded", 10)
            board.replug()                                                                  # type: ignore[attr-defined]
            await board.until(lambda lamps: colours(lamps)[-1:] == ["green"], 10)           # type: ignore[attr-defined]
            await wait_until(lambda: lane.health.component("light").state == "ok", 10)
    finally:
        station.close()
        rig.scanner.close()
