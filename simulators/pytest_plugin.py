"""pytest plugin (entry point `pytest11`): the simulators as fixtures.

Each area keeps its fixtures in its own module; this file only loads them, so a test writes
`def test_x(virtual_scanner, broker, agent): ...` without imports.
"""

from __future__ import annotations

import pytest

FIXTURE_MODULES = (
    "simulators.fixtures.daemon",
    "simulators.fixtures.devices",
    "simulators.fixtures.tokens",
    "simulators.fixtures.sync",
    "simulators.fixtures.postgres",
    "simulators.fixtures.catalog",
    "simulators.fixtures.clock",
    "simulators.fixtures.session",
    "simulators.fixtures.shop",
    "simulators.fixtures.metrics",
    "simulators.fixtures.secrets",
    "simulators.fixtures.powerloss",
    "simulators.fixtures.install",
)


def pytest_configure(config: pytest.Config) -> None:
    for module in FIXTURE_MODULES:
        if not config.pluginmanager.has_plugin(module):
            config.pluginmanager.import_plugin(module)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("omo_edge", "omo-edge hardware in the loop")
    group.addoption("--serial-port", metavar="PATH", default=None,
                    help="run the tests marked `hardware` against the real serial scanner at PATH")
    group.addoption("--hid-path", metavar="PATH", default=None,
                    help="run the tests marked `hardware` against the real keyboard-wedge scanner at PATH "
                         "(/dev/input/by-id/...-event-kbd; the test grabs it)")
    group.addoption("--hid-layout", metavar="LAYOUT", default="us", help="the keyboard layout of --hid-path")


def _device_option(request: pytest.FixtureRequest, option: str, reason: str) -> str:
    path: str | None = request.config.getoption(option)
    if not path:
        pytest.skip(reason)
    return path


@pytest.fixture
def hardware_serial_port(request: pytest.FixtureRequest) -> str:
    """The real serial scanner given with --serial-port; the test is skipped, saying so, without it."""
    return _device_option(request, "--serial-port",
                          "needs a real serial scanner: run with --serial-port /dev/serial/by-id/...")


@pytest.fixture
def hardware_hid_path(request: pytest.FixtureRequest) -> str:
    """The real keyboard-wedge scanner given with --hid-path; the test is skipped, saying so, without it."""
    return _device_option(request, "--hid-path",
                          "needs a real keyboard-wedge scanner: run with --hid-path /dev/input/by-id/...-event-kbd")
