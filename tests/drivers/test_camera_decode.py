"""Camera decoding on rendered frames: every symbology, allow-lists, several codes, confirmation, files, privacy."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")

from drivers import camera as camera_module  # noqa: E402
from drivers import decode as decode_module  # noqa: E402
from drivers import frames as frames_module  # noqa: E402
from drivers.confirm import ConfirmTracker  # noqa: E402
from drivers.decode import Decoded  # noqa: E402
from drivers.decoder_choice import make_decoder  # noqa: E402
from drivers.frames import Frame, LatestFrame  # noqa: E402
from drivers.registry import create  # noqa: E402
from simulators.devices.render import SAMPLE_DATA, SYMBOLOGIES, distorted, hard_set, place, symbol_image  # noqa: E402
from simulators.doubles.waiting import wait_until  # noqa: E402


def reads(decoder_name: str, image: object, symbologies: list[str] | None = None) -> set[tuple[str, str]]:
    decoder = make_decoder(decoder_name, symbologies or list(SYMBOLOGIES))
    return {(d.symbology, d.data.decode("latin-1")) for d in decoder(image)}


@pytest.mark.parametrize("cls", ["clean", "low_contrast", "rot90"])
@pytest.mark.parametrize("symbology", SYMBOLOGIES)
def test_the_default_decoder_reads_every_rendered_symbology(symbology: str, cls: str) -> None:
    image = distorted(symbology, SAMPLE_DATA[symbology], cls, np.random.default_rng(3))
    assert (symbology, SAMPLE_DATA[symbology]) in reads("cascade-full", image)


def test_decoders_only_look_for_the_allowed_symbologies() -> None:
    image = distorted("qr", SAMPLE_DATA["qr"], "clean", np.random.default_rng(3))
    for name in ("zbar", "zxing", "auto"):
        assert reads(name, image, ["ean13", "ean8"]) == set()


def test_several_codes_in_one_frame_are_all_read() -> None:
    rng = np.random.default_rng(5)
    frame = place(symbol_image("ean13", SAMPLE_DATA["ean13"], 2.5), (1280, 720), rng)
    qr = symbol_image("qr", SAMPLE_DATA["qr"], 4)
    frame[40:40 + qr.shape[0], 40:40 + qr.shape[1]] = qr
    assert {("ean13", SAMPLE_DATA["ean13"]), ("qr", SAMPLE_DATA["qr"])} <= reads("zxing", frame)


def test_on_the_hard_set_the_cascade_reads_more_than_either_decoder_alone() -> None:
    samples = list(hard_set(per_class=3, seed=11))
    score = {name: sum((s.symbology, s.data) in reads(name, s.image) for s in samples)
             for name in ("zbar", "zxing", "cascade-full")}
    assert score["cascade-full"] > max(score["zbar"], score["zxing"]), score


def test_a_single_frame_misread_is_never_reported_and_is_counted() -> None:
    tracker = ConfirmTracker(confirm_frames=2, rearm_s=0.5)
    assert tracker.frame([Decoded("ean13", b"4006381333931", None, "zxing")], now=0.0) == []
    assert tracker.frame([], now=1.0) == []
    assert tracker.unconfirmed == 1


def test_a_held_code_is_reported_once_and_again_only_after_leaving_the_view() -> None:
    tracker = ConfirmTracker(confirm_frames=2, rearm_s=0.5)
    code = [Decoded("ean8", b"12345670", None, "zxing"), Decoded("ean8", b"12345670", None, "zbar/crop")]
    reported = [tracker.frame(code, now=i * 0.033) for i in range(30)]   # held for a second
    assert sum(len(r) for r in reported) == 1
    assert tracker.frame([], now=2.0) == []                                 # gone for more than rearm
    assert tracker.frame(code, now=2.1) == []
    assert [(d.symbology, d.data) for d in tracker.frame(code, now=2.13)] == [("ean8", b"12345670")]


def test_the_decoder_always_gets_the_newest_frame() -> None:
    slot = LatestFrame()
    for i in range(5):
        slot.put(Frame(i, float(i)))
    newest = slot.take(0.1)
    assert newest is not None and newest.image == 4
    assert slot.skipped == 4


def test_colour_frames_are_decoded_as_grayscale_with_roi_and_downscale() -> None:
    scanner = create("cam", "camera", {"source": 0, "roi": [10, 20, 300, 200], "downscale": 0.5})
    prepared = scanner._prepare(Frame(np.zeros((480, 640, 3), np.uint8), 0.0))  # type: ignore[attr-defined]
    assert prepared.shape == (100, 150)


async def test_the_camera_driver_reads_an_image_file(tmp_path: Path) -> None:
    path = tmp_path / "label.png"
    cv2.imwrite(str(path), distorted("ean13", SAMPLE_DATA["ean13"], "clean", np.random.default_rng(1)))
    async with create("cam", "camera", {"source": str(path)}) as scanner:
        async with asyncio.timeout(5):
            event = await anext(aiter(scanner.scans()))
    assert (event.symbology, event.text) == ("ean13", SAMPLE_DATA["ean13"])


async def test_the_camera_driver_plays_a_video_file_and_reports_its_end(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480), isColor=False)
    image = distorted("qr", SAMPLE_DATA["qr"], "clean", np.random.default_rng(2), (640, 480))
    for _ in range(10):
        writer.write(image)
    writer.release()
    async with create("cam", "camera", {"source": str(path), "symbologies": ["qr"]}) as scanner:
        events = aiter(scanner.scans())
        async with asyncio.timeout(5):
            event = await anext(events)
            with pytest.raises(camera_module.DeviceUnavailable):
                await anext(events)
    assert (event.symbology, event.text) == ("qr", SAMPLE_DATA["qr"])


def test_no_camera_module_can_write_a_frame_anywhere() -> None:
    for module in (camera_module, decode_module, frames_module):
        source = Path(module.__file__ or "").read_text()
        assert not re.search(r"imwrite|VideoWriter|imencode|open\([^)]*['\"]w", source), module.__name__


async def test_when_decoding_is_slower_than_the_camera_frames_are_skipped_and_lag_stays_small() -> None:
    from simulators.devices.camera import VirtualCamera

    camera = VirtualCamera(fps=120, size=(1280, 720))
    async with create("cam", "sim+camera", {"source": camera.source, "decoder": "cascade-full"}) as scanner:
        events = aiter(scanner.scans())
        # An empty scene: every pass runs, far slower than 120 frames/s.
        await wait_until(lambda: scanner.counters()["frame_skipped_count"] > 0, 5, 0.01)
        camera.show(SAMPLE_DATA["ean8"], "ean8")
        async with asyncio.timeout(5):
            event = await anext(events)
        lag_s = asyncio.get_running_loop().time() - event.monotonic
        counters = scanner.counters()
    assert event.text == SAMPLE_DATA["ean8"]
    assert counters["frame_skipped_count"] > 0
    assert lag_s < 0.25, lag_s


async def test_a_camera_that_stops_delivering_frames_is_reported_unplugged() -> None:
    from simulators.devices.camera import VirtualCamera

    camera = VirtualCamera(fps=60)
    scanner = create("cam", "sim+camera", {"source": camera.source})
    scanner.stall_s = 0.3   # type: ignore[attr-defined]
    async with scanner:
        camera.freeze()
        try:
            with pytest.raises(camera_module.DeviceUnavailable) as stalled:
                async with asyncio.timeout(5):
                    await anext(aiter(scanner.scans()))
        finally:
            camera.unplug()   # releases the capture thread blocked in read(), so closing is quick
    assert stalled.value.reason is camera_module.UnavailableReason.UNPLUGGED
    assert "no frame for 0.3 s" in str(stalled.value)
