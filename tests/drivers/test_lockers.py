"""Locker drivers: found by name (built-ins without reading package metadata), built from their options."""

from __future__ import annotations

import pytest

from agent.errors import ConfigError
from agent.session.pickup_handover import build_locker
from agent.session.settings import PickupSection
from drivers import lockers
from drivers.base import DriverOptionError
from drivers.lockers import LockerError, LockerFault
from simulators.devices.locker import SimulatedLocker


def test_a_built_in_locker_is_found_without_scanning_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_metadata(**_: object) -> list[object]:
        raise AssertionError("entry points were read for a built-in locker")

    monkeypatch.setattr(lockers, "entry_points", no_metadata)
    assert lockers.load("simulated") is SimulatedLocker


def test_an_unknown_locker_names_those_installed() -> None:
    with pytest.raises(lockers.UnknownLocker, match=r"no locker named 'vault9000' \(installed: .*simulated"):
        lockers.load("vault9000")


def test_a_bad_option_is_refused_naming_it() -> None:
    with pytest.raises(DriverOptionError) as caught:
        lockers.create("simulated", {"fault": "on_fire"})
    assert caught.value.key == "fault" and "none, jammed, offline" in str(caught.value)


def test_no_locker_is_built_for_none_and_a_bad_one_is_a_config_error() -> None:
    assert build_locker(PickupSection()) is None
    assert isinstance(build_locker(PickupSection(locker="simulated")), SimulatedLocker)
    with pytest.raises(ConfigError, match=r"\[pickup\] locker: no locker named 'vault9000'"):
        build_locker(PickupSection(locker="vault9000"))


async def test_the_simulated_locker_opens_listed_compartments_and_reports_its_faults() -> None:
    locker = SimulatedLocker({"compartments": ["A1", "A2"]})
    await locker.open("A1")
    with pytest.raises(LockerError) as missing:
        await locker.open("Z9")
    locker.jam("A2")
    with pytest.raises(LockerError) as jammed:
        await locker.open("A2")
    locker.fault = "offline"
    with pytest.raises(LockerError) as offline:
        await locker.open("A1")
    assert (missing.value.fault, jammed.value.fault, offline.value.fault) == (
        LockerFault.NO_SUCH_COMPARTMENT, LockerFault.JAMMED, LockerFault.OFFLINE)
    assert locker.opened == ["A1"] and locker.attempts == ["A1", "Z9", "A2", "A1"]
