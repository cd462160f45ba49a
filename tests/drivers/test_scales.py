"""Scales: the loader and its option errors, each protocol against its pty simulator (weights exact in mg, status
bits, settling, cable pulled and put back, garbage skipped), and the wire formats round-tripping.

The drivers run unchanged against simulators that encode with their own reading of each protocol
(simulators/devices/scale_wire.py), over one physical model of a platter (simulators/devices/scale_physics.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers import plugins, scale_cas, scale_hid, scale_nci, scale_scp01, scale_toledo, scales
from drivers.base import DeviceUnavailable, DriverOptionError, UnavailableReason
from drivers.scale_cas import CasScale
from drivers.scale_frames import cut
from drivers.scale_hid import HidScale
from drivers.scale_scp01 import Scp01Scale
from drivers.scale_toledo import ToledoScale
from drivers.scales import NoStableWeight, Reading, Scale, ZeroNotSupported, open_scale, scaled_mg
from simulators.devices import scale_wire
from simulators.devices.scale import VirtualScale
from simulators.devices.scale_physics import Sample, ScalePhysics


def scale_for(sim: VirtualScale, **extra: object) -> Scale:
    return open_scale(sim.driver, {**sim.options, **extra})


async def first(scale: Scale, predicate: Callable[[Reading], bool], within_s: float = 3.0) -> Reading:
    """The first live reading that satisfies `predicate` (fails the test if none within `within_s`)."""
    deadline = time.monotonic() + within_s
    async for r in scale.live():
        if predicate(r):
            return r
        assert time.monotonic() < deadline, f"no such reading within {within_s} s; last {r}"
    raise AssertionError("live() ended")


def test_built_in_scales_are_found_without_reading_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_metadata(**_: object) -> list[object]:
        raise AssertionError("entry points were read for a built-in scale")

    monkeypatch.setattr(plugins, "entry_points", no_metadata)
    loaded: list[object] = [scales.load(n) for n in ("toledo8217", "scp01", "cas_pd2", "hid_scale")]
    assert loaded == [ToledoScale, Scp01Scale, CasScale, HidScale]


def test_an_unknown_scale_names_those_there_are() -> None:
    with pytest.raises(scales.UnknownScale, match=r"no scale driver named 'bizerba'\. Fix: use one of .*scp01"):
        open_scale("bizerba", {})


@pytest.mark.parametrize(("driver", "options", "key", "words"), [
    ("toledo8217", {}, "port", "needs port"),
    ("toledo8217", {"port": "/dev/x", "unit": "st"}, "unit", "use one of kg, lb"),
    ("toledo8217", {"port": "/dev/x", "parity": "mark"}, "parity", "use one of none, even, odd"),
    ("scp01", {"port": "/dev/x", "rate_hz": 100}, "rate_hz", "use 0.5 to 50"),
    ("scp01", {"port": "/dev/x", "baudrate": "9600"}, "baudrate", "expected an integer"),
    ("scp01", {"port": "/dev/x", "format": "ascii"}, "format", "use one of sma, nci"),
    ("cas_pd2", {"port": "/dev/x", "path": "/dev/y"}, "path", "has no option 'path'"),
    ("hid_scale", {}, "path", "needs path"),
    ("hid_scale", {"path": "/dev/hidraw0", "baudrate": 9600}, "baudrate", "has no option 'baudrate'"),
])
def test_a_bad_option_is_refused_naming_the_key_and_the_fix(driver: str, options: dict[str, object], key: str,
                                                            words: str) -> None:
    with pytest.raises(DriverOptionError) as caught:
        open_scale(driver, options)
    assert caught.value.key == key and words in str(caught.value) and "Fix:" in str(caught.value)


def test_the_entry_points_in_pyproject_are_the_built_ins() -> None:
    import tomllib

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["omo_edge.scales"] == scales.BUILTIN


def test_hand_written_frames_decode_as_their_layouts_say() -> None:
    assert scale_toledo.decode(b"\x0201.234\r", 0).weight_mg == 1_234_000
    assert scale_toledo.decode(b"\x0201234\r", 0, "lb", 2).weight_mg == 5_597_330        # 12.34 lb = 5 597 329.85 mg
    status = scale_toledo.decode(b"\x02?\x47\r", 0)          # motion, over capacity, under zero
    assert (status.motion, status.under_zero, status.over_capacity, status.needs_zeroing) == (True, True, True, False)
    assert scale_toledo.decode(b"\x02?\x48\r", 0).needs_zeroing  # outside the zero capture range
    with pytest.raises(ValueError):
        scale_toledo.decode(b"\x02?\x01\r", 0)                  # bit 6 must be set
    lost = scale_scp01.decode(b"\nI1G" + b" " + b" " + b"     0.350" + b"kg \r", 0)   # s r n m f weight unit
    assert (lost.weight_mg, lost.needs_zeroing, lost.stable) == (350_000, True, False)
    assert scale_scp01.decode(b"\n 1NM" + b" " + b"      12.5" + b"lb \r", 0).weight_mg == 5_669_905  # 12.5 lb
    nci = scale_nci.decode(b"\n  1.234kg\r\n\x31\x30\r\x03", 0)                         # moving
    assert (nci.weight_mg, nci.motion, nci.stable) == (1_234_000, True, False)
    over = scale_nci.decode(b"\n^^^^^^^lb\r\n\x30\x32\r\x03", 0)
    assert (over.weight_mg, over.over_capacity) == (0, True)
    assert scale_nci.decode(b"\n\x32\x70\x38\r\x03", 0).needs_zeroing                 # initial zero error
    with pytest.raises(DeviceUnavailable, match="memory .* error. Fix: have the scale serviced"):
        scale_nci.decode(b"\n\x34\x30\r\x03", 0)                                         # RAM error
    with pytest.raises(ValueError):
        scale_nci.decode(b"\n\x32\x30\x38\r\x03", 0)                # a third byte nobody announced
    body = b"U-00.120kg"
    frame = b"\x01\x02" + body + bytes((scale_cas.bcc(body),)) + b"\x03\x04"
    cas = scale_cas.decode(frame, 0)
    assert (cas.weight_mg, cas.motion, cas.under_zero) == (-120_000, True, True)
    with pytest.raises(ValueError):
        scale_cas.decode(frame[:-3] + bytes((frame[-3] ^ 1,)) + frame[-2:], 0)                # a wrong BCC
    oz = scale_hid.decode(bytes((3, 4, 11, 0xFF, 0x7B, 0x00)), 0)                            # 12.3 oz, stable
    assert (oz.weight_mg, oz.stable) == (348_699, True)                 # 348 699.13 mg


def test_frames_are_cut_out_of_line_noise_and_a_start_that_never_ends_is_skipped() -> None:
    assert cut(b"\x00\xff\x0201.000\r\x13\x0202.000\r\x020", b"\x02", b"\r", 12) == \
        ([b"\x0201.000\r", b"\x0202.000\r"], b"\x020", 3)
    assert cut(b"\x02" + b"9" * 20 + b"\x0203.000\r", b"\x02", b"\r", 12) == ([b"\x0203.000\r"], b"", 21)


def test_weights_convert_to_whole_milligrams_exactly_or_rounded_half_up() -> None:
    assert scaled_mg(1234, 3, "kg") == 1_234_000
    assert scaled_mg(350, 0, "g") == 350_000
    assert scaled_mg(125, 2, "lb") == 566_990            # 1.25 lb = 566 990.4625 mg
    assert scaled_mg(1, 1, "oz") == 2835                 # 0.1 oz = 2834.95 mg
    assert scaled_mg(-5, 0, "g") == -5000
    assert scaled_mg(3, -1, "g") == 30_000               # a positive HID exponent: 3 x 10 g


async def test_each_protocol_reads_the_weight_put_down_exactly_in_mg(scale_sim: VirtualScale) -> None:
    async with scale_for(scale_sim) as scale:
        empty = await scale.read_stable(3)
        scale_sim.place(350_000)
        item = await scale.read_stable(3)
        scale_sim.place(1_234_000)
        both = await scale.read_stable(3)
        scale_sim.lift(350_000)
        left = await scale.read_stable(3)
    assert [r.weight_mg for r in (empty, item, both, left)] == [0, 350_000, 1_584_000, 1_234_000]
    assert all(r.stable and not (r.motion or r.under_zero or r.over_capacity or r.needs_zeroing)
               for r in (empty, item, both, left))


async def test_read_stable_waits_out_the_motion_of_an_item_settling(scale_sim: VirtualScale) -> None:
    async with scale_for(scale_sim) as scale:
        await scale.read_stable(3)
        scale_sim.place(500_000)
        put_down = time.monotonic()
        moving = await first(scale, lambda r: r.motion)
        settled = await scale.read_stable(3)
    assert not moving.stable
    assert settled.weight_mg == 500_000 and settled.stable
    assert settled.received_at - put_down >= scale_sim.physics.settle_s * 0.9, "sold before it settled"


async def test_a_scale_that_never_settles_gives_no_weight_to_sell(scale_sim: VirtualScale) -> None:
    async with scale_for(scale_sim) as scale:
        scale_sim.vibrate(5.0, 40_000)
        with pytest.raises(NoStableWeight) as caught:
            await scale.read_stable(0.6)
    last = caught.value.last
    assert last is not None and not last.stable and "Fix:" in str(caught.value)
    # A HID report has one status: a swing below zero reads "under zero" there, "motion" with it elsewhere.
    assert last.motion or (scale_sim.protocol == "hid" and last.under_zero)


async def test_under_zero_is_reported_with_the_weight_below_zero(scale_sim: VirtualScale) -> None:
    async with scale_for(scale_sim) as scale:
        scale_sim.lift(120_000)                          # something lifted that was there when it was zeroed
        settled_at = time.monotonic() + scale_sim.physics.settle_s
        under = await first(scale, lambda r: r.under_zero and r.received_at > settled_at)
    assert not under.stable
    # A Toledo status frame carries no weight; the others say how far below zero.
    assert under.weight_mg == (0 if scale_sim.protocol == "toledo" else -120_000)


async def test_over_capacity_is_reported(scale_sim: VirtualScale) -> None:
    async with scale_for(scale_sim) as scale:
        scale_sim.place(16_000_000)                      # 16 kg on a 15 kg scale
        over = await first(scale, lambda r: r.over_capacity)
        with pytest.raises(NoStableWeight):
            await scale.read_stable(0.8)
    assert not over.stable


async def test_needs_zeroing_is_reported_where_the_protocol_carries_it(scale_sim: VirtualScale) -> None:
    async with scale_for(scale_sim) as scale:
        scale_sim.place(200_000)
        await scale.read_stable(3)
        scale_sim.lose_zero()
        if scale_sim.protocol == "cas":                  # the PD-II has no such state: it sells on
            assert not (await scale.read_stable(3)).needs_zeroing
            return
        lost = await first(scale, lambda r: r.needs_zeroing)
    assert not lost.stable


async def test_an_item_partly_off_the_platter_reads_low(scale_sim: VirtualScale) -> None:
    async with scale_for(scale_sim) as scale:
        scale_sim.place(1_000_000, on_platter=0.8)
        assert (await scale.read_stable(3)).weight_mg == 800_000


@pytest.mark.parametrize("protocol", ["toledo", "scp01", "nci"])
async def test_zero_sets_what_rests_on_the_platter_to_zero(protocol: str) -> None:
    sim = VirtualScale(protocol)
    try:
        async with scale_for(sim) as scale:
            sim.place(42_000)
            assert (await scale.read_stable(3)).weight_mg == 42_000
            await scale.zero()
            zeroed = await scale.read_stable(3)
        assert zeroed.weight_mg == 0 and zeroed.stable
        assert sim.requests.count({"toledo": b"Z", "scp01": b"\nZ\r", "nci": b"Z\r"}[protocol]) == 1
    finally:
        sim.close()


@pytest.mark.parametrize("protocol", ["cas", "hid"])
async def test_zero_is_refused_with_the_fix_where_the_protocol_has_none(protocol: str) -> None:
    sim = VirtualScale(protocol)
    try:
        async with scale_for(sim) as scale:
            with pytest.raises(ZeroNotSupported, match="Fix: press the scale's zero key"):
                await scale.zero()
    finally:
        sim.close()


async def test_the_cable_pulled_and_put_back(scale_sim: VirtualScale) -> None:
    scale = scale_for(scale_sim)
    async with scale:
        scale_sim.place(250_000)
        assert (await scale.read_stable(3)).weight_mg == 250_000
        scale_sim.unplug()
        with pytest.raises(DeviceUnavailable) as gone:
            await scale.read_stable(3)
        with pytest.raises(DeviceUnavailable):
            await scale.read_stable(3)                   # still gone: nothing is tried on a closed port
    assert gone.value.reason is UnavailableReason.UNPLUGGED and "Fix: plug it back in" in str(gone.value)
    with pytest.raises(DeviceUnavailable) as absent:
        async with scale:
            pass
    assert absent.value.reason is UnavailableReason.NOT_FOUND and "Fix:" in str(absent.value)
    scale_sim.replug()
    async with scale:                                    # the supervisor's reopen
        assert (await scale.read_stable(3)).weight_mg == 250_000


async def test_garbage_bytes_and_garbled_replies_are_skipped_and_counted(scale_sim: VirtualScale) -> None:
    async with scale_for(scale_sim) as scale:
        scale_sim.place(75_000)
        await scale.read_stable(3)
        before = scale.counters()["garbled_count"]
        scale_sim.garbage(b"\x00\xff\x13\x7f\x02\r\n")
        scale_sim.garble(2)
        reading = await scale.read_stable(3)
        after = scale.counters()["garbled_count"]
    assert reading.weight_mg == 75_000 and reading.stable
    assert after - before >= 2, scale.counters()


async def test_a_scale_that_answers_nothing_is_unavailable_with_the_fix(scale_sim: VirtualScale) -> None:
    scale_sim.mute()
    async with scale_for(scale_sim, reply_timeout_ms=100, silent_polls=2) as scale:
        with pytest.raises(DeviceUnavailable) as silent:
            await scale.read_stable(3)
    assert silent.value.reason is UnavailableReason.FAILED and "Fix: check the protocol, baud rate" in \
        str(silent.value)


async def test_a_scale_answering_only_garbage_is_unavailable_with_the_fix(scale_sim: VirtualScale) -> None:
    scale_sim.garble(1000)
    async with scale_for(scale_sim, reply_timeout_ms=150, silent_polls=2) as scale:
        with pytest.raises(DeviceUnavailable) as garbled:
            await scale.read_stable(5)
        assert scale.counters()["garbled_count"] >= 1
    assert garbled.value.reason is UnavailableReason.FAILED and "Fix:" in str(garbled.value)


async def test_live_polls_at_the_rate_asked(toledo_scale_sim: VirtualScale) -> None:
    async with scale_for(toledo_scale_sim, rate_hz=20) as scale:
        seen: list[Reading] = []
        async for r in scale.live():
            seen.append(r)
            if len(seen) == 21:
                break
    span = seen[-1].received_at - seen[0].received_at
    assert 0.8 < span < 1.6, span                       # 20 gaps at 20 Hz: one second
    assert len(toledo_scale_sim.requests) == 21


async def test_a_scale_that_is_not_there_cannot_be_opened(tmp_path: Path) -> None:
    for driver, key in (("scp01", "port"), ("hid_scale", "path")):
        with pytest.raises(DeviceUnavailable) as absent:
            async with open_scale(driver, {key: str(tmp_path / "gone")}):
                pass
        assert absent.value.reason is UnavailableReason.NOT_FOUND and "Fix:" in str(absent.value)


def _expected(protocol: str, s: Sample) -> tuple[int, bool, bool, bool, bool]:
    """(weight_mg, motion, under_zero, over_capacity, needs_zeroing) as each protocol can carry the sample
    (HID: one status, over capacity before under zero before needs zeroing before motion; the weight's magnitude,
    negative under zero)."""
    w, motion, under, over, lost = s.weight_mg, s.motion, s.under_zero, s.over_capacity, s.needs_zeroing
    if protocol == "toledo":                  # a status frame (any flag) has no weight; both bytes carry every flag
        return (0 if motion or under or over or lost else w), motion, under, over, lost
    if protocol == "scp01":                   # one status letter (O before U before E), motion a column of its own
        return w, motion, under, over, lost and not (over or under)   # a weight below zero is under zero too
    if protocol == "nci":                     # a weight line (^ over capacity: no weight) and the status bytes
        return (0 if over else w), motion, under, over, lost
    if protocol == "cas":                     # F (over capacity, no weight) or U/S; no zeroing state
        return (0, False, False, True, False) if over else (w, motion, under, False, False)
    status = "over" if over else "under" if under else "lost" if lost else "motion" if motion else "still"
    weight = -abs(w) if status == "under" else abs(w)
    return weight, status == "motion", status == "under", status == "over", status == "lost"


SAMPLES = st.builds(lambda grams, motion, over, lost: Sample(grams * 1000, motion, grams < 0, over, lost),
                    st.integers(-9_999, 65_535), st.booleans(), st.booleans(), st.booleans())
DECODERS = {"toledo": scale_toledo.decode, "scp01": scale_scp01.decode, "nci": scale_nci.decode,
            "cas": scale_cas.decode,
            "hid": scale_hid.decode}


@pytest.mark.parametrize("protocol", sorted(DECODERS))
@settings(max_examples=60, deadline=None)
@given(sample=SAMPLES)
def test_each_wire_format_round_trips_the_weight_and_the_status_it_can_carry(protocol: str, sample: Sample) -> None:
    r = DECODERS[protocol](scale_wire.ENCODERS[protocol](sample), 1.0)
    assert (r.weight_mg, r.motion, r.under_zero, r.over_capacity, r.needs_zeroing) == _expected(protocol, sample)
    assert r.stable == (not (r.motion or r.under_zero or r.over_capacity or r.needs_zeroing))


def test_the_platter_model_is_seeded_settles_and_drifts_until_it_needs_zeroing() -> None:
    def run(seed: int) -> list[Sample]:
        p = ScalePhysics(seed=seed, noise_mg=400, settle_s=0.5)
        p.place(300_000, 1.0)
        return [p.sample(1.0 + i / 20) for i in range(20)]

    assert run(7) == run(7) and run(7) != run(8)         # seeded: the same run twice, another seed differs
    samples = run(7)
    assert all(s.motion for s in samples[:10]) and not any(s.motion for s in samples[10:])
    assert {s.weight_mg for s in samples[10:]} <= {299_000, 300_000, 301_000}     # noise within a division or so
    drifting = ScalePhysics(noise_mg=0, drift_mg_per_min=6_000, zero_limit_mg=20_000)
    assert drifting.sample(60.0).weight_mg == 6_000 and not drifting.sample(60.0).needs_zeroing
    assert drifting.sample(240.0).needs_zeroing                          # 24 g off zero after four minutes
    drifting.zero(240.0)
    assert drifting.sample(241.0) == Sample(0, False, False, False, False)
