"""Device simulator fixtures: a pty serial scanner, a keyboard wedge, a virtual camera; each cleaned up after the test.

    def test_scan(serial_scanner_sim):            # or virtual_scanner
        serial_scanner_sim.scan("4006381333931", aim="]E0")
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulators.hid import VirtualKeyboardWedge
from simulators.serial_pty import VirtualSerialScanner


@pytest.fixture
def serial_scanner_sim() -> Iterator[VirtualSerialScanner]:
    """A serial scanner on a real pty; `.path` is a stable by-id style symlink that survives replug."""
    sim = VirtualSerialScanner()
    yield sim
    sim.close()


@pytest.fixture
def virtual_scanner(serial_scanner_sim: VirtualSerialScanner) -> VirtualSerialScanner:
    """The name DESIGN.md uses for the serial scanner simulator."""
    return serial_scanner_sim


@pytest.fixture
def hid_wedge_sim() -> Iterator[VirtualKeyboardWedge]:
    """A keyboard wedge typing `us` layout input_event bytes; read it with driver `sim+hid`, path = `.path`."""
    sim = VirtualKeyboardWedge()
    yield sim
    sim.close()


@pytest.fixture
def camera_sim() -> Iterator[object]:
    """A virtual camera at 60 fps, 640x480; read it with driver `sim+camera`, source = `.source`."""
    pytest.importorskip("cv2", reason="the camera simulator needs opencv-python-headless (extra: camera)")
    from simulators.camera import VirtualCamera

    camera = VirtualCamera(fps=60)
    yield camera
    camera.unplug()
