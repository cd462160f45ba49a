"""The shopper simulator through a real lane: honest and dishonest visits scanned on a pty scanner and bagged on
a pty scale, each called (or not) as the simulated-time run over the same rules and physics says, with the
lane's total the pricing engine's for what was scanned. The bench (bench/bagging.py) runs the long version.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.bagging.settings import BaggingSection
from simulators.devices.scale_physics import ScalePhysics
from simulators.lanes.bagging import FAST, BaggingRig
from simulators.trials import shoppers as sh

pytestmark = pytest.mark.timeout(240)
SKIP_MAX_G = 1500
QUIET = sh.Shoppers(own_bag=0.5, slow=0.0, lean=0.0, shake=0.0, mean_items=3.0)


def _visit(behaviour: str, seed: int) -> sh.Visit:
    """The first script from `seed` on whose act the rules can tell (a heavy skip above skip_max, a swap to a
    dearer item of another weight): each dishonest behaviour is then one the lane must find."""
    rng = random.Random(seed)
    while True:
        visit = sh.script(rng, QUIET, behaviour)
        if visit.behaviour != behaviour:
            continue
        if behaviour == "heavy_skip" and visit.act_mass_g <= SKIP_MAX_G:
            continue
        if behaviour == "swap" and not _swap_tells(visit):
            continue
        return visit


def _swap_tells(visit: sh.Visit) -> bool:
    act = next(s for s in visit.steps if s.act)
    scanned = {s.product.code: s.product for s in visit.steps if s.kind == "scan" and s.product is not None}
    return act.product is not None and act.product.code not in scanned and all(
        abs(act.product.weight_g - p.weight_g) > max(10, p.weight_g // 20) + 5 for p in scanned.values())


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[BaggingRig]:
    physics = ScalePhysics(seed=5, capacity_mg=30_000_000, settle_s=0.3, noise_mg=300, started_at=time.monotonic())
    rig = BaggingRig(tmp_path, sh.catalog_lines(), physics=physics)
    yield rig
    rig.close()


async def test_honest_and_dishonest_visits_through_the_real_lane(rig: BaggingRig) -> None:
    visits = [_visit("honest", 1), *(_visit(b, 10 + i) for i, b in enumerate(sh.BEHAVIOURS))]
    settings = BaggingSection(enabled=True, skip_max_g=SKIP_MAX_G, place_timeout_s=FAST["place_timeout_s"],
                              call_after_s=FAST["call_after_s"], motion_timeout_s=FAST["motion_timeout_s"])
    expected = sh.PureLane(settings, sh.physics_for_lane(0))
    async with rig.lane(skip_max_g=SKIP_MAX_G, **FAST) as lane:
        for visit in visits:
            simulated = expected.play(visit)
            real = await sh.play_on_lane(lane, rig.scanner, rig.scale, visit, speed=0.6)
            assert [r for _, r in real.calls] == [r for _, r in simulated.calls], visit.behaviour
            assert real.detected == (visit.behaviour != "honest"), visit.behaviour
