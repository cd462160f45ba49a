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
    "simulators.fixtures.catalog",
    "simulators.fixtures.clock",
)


def pytest_configure(config: pytest.Config) -> None:
    for module in FIXTURE_MODULES:
        if not config.pluginmanager.has_plugin(module):
            config.pluginmanager.import_plugin(module)
