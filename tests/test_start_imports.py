"""The daemon's start path loads only what an idle lane uses; the rest loads at the first scan, sale or frame.

Idle memory after READY is a budget (60 MB on `bench/startup.py`): every package the start path imports stays
resident for the life of the process, even on a lane that never sees an app token, a TLS check or a camera.
This test runs `omo-edge run` as systemd would, under `python -X importtime`, with a broker and a catalog
configured (both unreachable, as in the bench), and names the modules that must still be absent after READY.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

from simulators.doubles.ports import free_port
from simulators.fixtures.daemon import AgentProcess

# Each is imported inside the function that first needs it; the reason says when an idle lane would need it.
LOADED_LATER = {
    "cryptography": "Ed25519 app-token keys ([trust] keys) or the broker's TLS files ([mqtt] tls)",
    "biip": "GS1 element strings: the first GS1 code scanned",
    "barcode": "the receipt's Code 128: the first receipt shown",
    "segno": "the payment QR: the first merchant-presented payment",
    "cv2": "cameras: the first frame of a configured camera",
    "numpy": "cameras: the first frame of a configured camera",
    "agent.payment.paypay": "a payment provider: only when [payment] names it",
}

IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", re.MULTILINE)


def test_an_idle_lane_leaves_the_first_use_modules_unloaded(
        tmp_path: Path, write_config: Callable[..., Path], start_agent: Callable[..., AgentProcess]) -> None:
    token = tmp_path / "cloud.token"
    token.write_text("t")
    token.chmod(0o600)
    config = write_config(mqtt={"host": "127.0.0.1", "port": free_port()},
                          catalog={"url": f"http://127.0.0.1:{free_port()}/catalog", "token_file": str(token)})
    agent = start_agent(config, program=(sys.executable, "-X", "importtime", "-m", "agent"))
    time.sleep(0.5)   # the bench reads RSS after READY: let the supervised components take their first step
    assert agent.stop() == 0
    loaded = set(IMPORTED.findall(agent.output))
    assert "agent.session.controller" in loaded   # importtime did report the start path
    early = {name: why for name, why in LOADED_LATER.items()
             if any(m == name or m.startswith(name + ".") for m in loaded)}
    assert early == {}, f"loaded by an idle lane although only needed later: {early}"
