"""Real photos and the rendered hard cases, played to the camera path as video: decode rate beside each decoder
alone and their union on the same frames, and misreads, which fail the test.

The photos are in ../shared/camera-photos beside the repository (not in it); without them those tests skip.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")
pytest.importorskip("zxingcpp")
pytest.importorskip("pyzbar.pyzbar")

from drivers.registry import create  # noqa: E402
from simulators.devices import photos  # noqa: E402
from simulators.devices.clusters import cluster_set  # noqa: E402
from simulators.devices.render import hard_set  # noqa: E402

ROOT = photos.photos_root(Path(__file__).resolve().parent.parent.parent)
needs_photos = pytest.mark.skipif(not ROOT.is_dir(), reason=f"no real photos at {ROOT} (../shared/camera-photos "
                                  "beside the repository); the rendered cases still run")


def report(title: str, played: photos.Played) -> str:
    s = played.scores
    return (f"{title}: agent {s['agent'].rate:.0%}, zbar {s['zbar'].rate:.0%}, zxing-cpp {s['zxing'].rate:.0%}, "
            f"either {s['either'].rate:.0%} of {s['agent'].photos}; agent misreads {s['agent'].misreads}; "
            f"held back {played.suppressed}; missed {s['agent'].missed}")


@needs_photos
def test_real_photos_played_as_mjpg_video_read_more_than_either_decoder_and_never_misread(tmp_path: Path) -> None:
    played = photos.play(photos.load(ROOT), tmp_path / "photos.avi", hold=8)
    print(report("real photos", played))
    scores = played.scores
    assert scores["agent"].misreads == [], report("real photos", played)
    assert scores["agent"].rate > scores["either"].rate, report("real photos", played)


def test_rendered_clusters_read_more_than_the_union_of_both_decoders_and_never_misread() -> None:
    played = photos.play(photos.rendered(cluster_set(per_class=6)), None, hold=5)
    print(report("rendered clusters", played))
    assert played.scores["agent"].misreads == [], report("rendered clusters", played)
    assert played.scores["agent"].rate > played.scores["either"].rate, report("rendered clusters", played)


def test_the_hard_set_is_never_misread() -> None:
    played = photos.play(photos.rendered(hard_set(per_class=3, seed=7)), None, hold=5)
    print(report("hard set", played))
    assert played.scores["agent"].misreads == [], report("hard set", played)
    assert played.scores["agent"].rate > played.scores["either"].rate, report("hard set", played)


@needs_photos
async def test_the_camera_driver_plays_real_photos_and_reports_only_what_is_there(tmp_path: Path) -> None:
    """The real driver (capture and decode threads, a video file at 30 fps): every event is an expected code."""
    chosen = ("ean13-extension-1/1", "itf-1/1", "qrcode-6/15", "qrcode-5/16", "ean13-extension-1/2")
    shown = [p for p in photos.load(ROOT) if p.name in chosen]
    video = tmp_path / "photos.avi"
    photos.write_video([photos.fit(p.image) for p in shown], video, hold=15)
    options = {"source": str(video), "symbologies": list(photos.SYMBOLOGIES)}
    events = []
    async with create("cam", "camera", options) as scanner:
        with pytest.raises(Exception, match="no more frames"):
            async with asyncio.timeout(20):
                async for event in scanner.scans():
                    events.append(event)
    texts = [e.text + (e.addon or "") for e in events]
    expected = {p.expected for p in shown}
    assert [t for t in texts if all(photos.misread(t, x) for x in expected)] == [], texts
    assert {"TEST", "978073520044951299"} <= set(texts), texts
    assert next(e for e in events if e.text == "9780735200449").addon == "51299"
