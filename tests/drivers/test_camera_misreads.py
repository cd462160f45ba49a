"""The misread rules (drivers/confirm.py) and EAN/UPC add-ons, on the tracker alone and through the camera driver."""

from __future__ import annotations

import asyncio

import pytest

cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")
zxingcpp = pytest.importorskip("zxingcpp")

from drivers.confirm import ConfirmTracker  # noqa: E402
from drivers.decode import Decoded, split_addon  # noqa: E402
from drivers.decoder_choice import make_decoder  # noqa: E402
from drivers.registry import create  # noqa: E402
from simulators.devices.camera import VirtualCamera  # noqa: E402
from simulators.devices.render import place, scene, symbol_image  # noqa: E402
from simulators.doubles.waiting import wait_until  # noqa: E402

UPCA_BOX = (400, 300, 700, 400)


def read(data: bytes, view: str, symbology: str = "upca", box: tuple[int, int, int, int] | None = UPCA_BOX,
         addon: str | None = None) -> Decoded:
    return Decoded(symbology, data, None, view, addon, box)


def run(tracker: ConfirmTracker, frames: list[list[Decoded]]) -> list[tuple[str, bytes, str | None]]:
    out = []
    for i, codes in enumerate(frames):
        out += [(d.symbology, d.data, d.addon) for d in tracker.frame(codes, i / 30)]
    tracker.frame([], 100.0)   # everything leaves the view and is counted
    return out


def test_a_weak_check_code_read_in_one_view_only_is_held_back_however_many_frames_saw_it() -> None:
    tracker = ConfirmTracker(confirm_frames=2)
    assert run(tracker, [[read(b"036000291452", "zbar")]] * 12) == []
    assert (tracker.suppressed, tracker.unconfirmed) == (1, 0)


def test_two_views_that_agree_report_the_code_once() -> None:
    tracker = ConfirmTracker(confirm_frames=2)
    frames = [[read(b"036000291452", "zxing"), read(b"036000291452", "zbar/crop")]] * 12
    assert run(tracker, frames) == [("upca", b"036000291452", None)]
    assert tracker.suppressed == 0


def test_one_decoder_at_one_scale_is_one_view_whatever_the_binarizer_or_crop() -> None:
    tracker = ConfirmTracker(confirm_frames=2)
    frames = [[read(b"086301333931", "zxing"), read(b"086301333931", "zxing/crop-hist"),
               read(b"086301333931", "zxing/crop-clahe")]] * 6
    assert run(tracker, frames) == [] and tracker.suppressed == 1
    agreeing = [[read(b"036000291452", "zxing"), read(b"036000291452", "zxing/crop2x")]] * 2
    assert run(ConfirmTracker(confirm_frames=2), agreeing) == [("upca", b"036000291452", None)]


def test_a_single_decoder_needs_frames_only() -> None:
    assert run(ConfirmTracker(confirm_frames=2, views_needed=1), [[read(b"036000291452", "zbar")]] * 3) == \
        [("upca", b"036000291452", None)]


def test_a_one_view_read_conflicting_with_a_better_supported_one_is_held_back() -> None:
    tracker = ConfirmTracker(confirm_frames=2)
    good, wrong = b"036000291452", b"036000291469"
    frames = [[read(good, "zxing"), read(good, "zbar/crop"), read(wrong, "zbar/crop")]] * 6
    assert run(tracker, frames) == [("upca", good, None)]
    assert tracker.suppressed == 1


def test_two_equally_supported_readings_of_one_region_hold_each_other_back() -> None:
    tracker = ConfirmTracker(confirm_frames=2)
    a, b = b"036000291452", b"036000291469"
    assert run(tracker, [[read(a, "zxing"), read(a, "zbar"), read(b, "zxing/crop2x"), read(b, "zbar/crop")]] * 6) \
        == []
    assert tracker.suppressed == 2


def test_codes_in_separate_regions_do_not_conflict() -> None:
    tracker = ConfirmTracker(confirm_frames=2)
    a, b = b"036000291452", b"036000291469"
    far = (900, 300, 1200, 400)
    frames = [[read(a, "zxing"), read(a, "zbar"), read(b, "zxing", box=far), read(b, "zbar", box=far)]] * 3
    assert sorted(run(tracker, frames)) == [("upca", a, None), ("upca", b, None)]


def test_an_ean8_inside_a_longer_code_is_not_reported_on_its_own() -> None:
    tracker = ConfirmTracker(confirm_frames=2)
    inside = (450, 320, 600, 380)
    frames = [[read(b"036000291452", "zxing"), read(b"036000291452", "zbar"),
               read(b"12345670", "zxing", "ean8", inside), read(b"12345670", "zbar/crop", "ean8", inside)]] * 6
    assert run(tracker, frames) == [("upca", b"036000291452", None)]
    assert tracker.suppressed == 1


def test_strong_check_codes_need_frames_only() -> None:
    qr = Decoded("qr", b"omo:member:12345678", None, "zxing", None, UPCA_BOX)
    assert run(ConfirmTracker(confirm_frames=2), [[qr]] * 3) == [("qr", b"omo:member:12345678", None)]


def test_an_addon_is_carried_when_two_views_agree_and_dropped_when_they_disagree() -> None:
    main = b"9780735200449"
    agreed = [[read(main, "zxing", "ean13", addon="51299"), read(main, "zxing/crop2x", "ean13", addon="51299")]] * 3
    assert run(ConfirmTracker(), agreed) == [("ean13", main, "51299")]
    split = [[read(main, "zxing", "ean13", addon="51299"), read(main, "zxing/crop2x", "ean13", addon="51239")]] * 8
    assert run(ConfirmTracker(), split) == [("ean13", main, None)]   # the GTIN still goes; the add-on does not


def test_a_code_waits_a_few_frames_for_its_addon_to_be_confirmed() -> None:
    main = b"9780735200449"
    frames = [[read(main, "zxing", "ean13", addon="51299"), read(main, "zbar/crop", "ean13")]] * 3
    frames += [[read(main, "zxing", "ean13", addon="51299"), read(main, "zxing/crop2x", "ean13", addon="51299")]]
    tracker = ConfirmTracker()
    reported = [tracker.frame(codes, i / 30) for i, codes in enumerate(frames)]
    assert [len(r) for r in reported] == [0, 0, 0, 1] and reported[3][0].addon == "51299"


def addon_frame(code: str, addon: str) -> np.ndarray:
    """An EAN-13 with its add-on as zxing-cpp's writer draws it, on a camera-sized scene."""
    barcode = zxingcpp.create_barcode(f"{code} {addon}", zxingcpp.BarcodeFormat.EAN13)
    symbol = np.array(zxingcpp.write_barcode_to_image(barcode, scale=3, add_quiet_zones=True))
    return place(np.pad(symbol, 20, constant_values=255), (1280, 720), np.random.default_rng(4))


def test_the_decoder_reads_an_addon_apart_from_the_gtin() -> None:
    found = make_decoder("auto", ["ean13"])(addon_frame("9780735200449", "51299"))
    assert ("ean13", b"9780735200449", "51299") in {(d.symbology, d.data, d.addon) for d in found}


@pytest.mark.parametrize(("text", "addon", "expected"), [
    (b"978073520044951299", "51299", (b"9780735200449", "51299")),
    (b"978073520044912", "12", (b"9780735200449", "12")),
    (b"00270110069510262", "0262", (b"0027011006951", None)),   # part of an add-on: the code without it
    (b"9780735200449", "5129x", (b"9780735200449", None)),
])
def test_only_a_2_or_5_digit_addon_is_an_addon(text: bytes, addon: str, expected: tuple[bytes, str | None]) -> None:
    assert split_addon(text, addon) == expected


async def test_the_scan_event_carries_the_addon_and_the_counters_show_misreads_suppressed() -> None:
    camera = VirtualCamera(fps=30, size=(1280, 720))
    async with create("cam", "sim+camera", {"source": camera.source, "symbologies": ["ean13"]}) as scanner:
        camera.show_image(addon_frame("9780735200449", "51299"))
        async with asyncio.timeout(5):
            event = await anext(aiter(scanner.scans()))
        counters = scanner.counters()
    assert (event.symbology, event.text, event.addon) == ("ean13", "9780735200449", "51299")
    assert counters["misreads_suppressed"] == 0


async def test_two_codes_stacked_closer_than_a_third_of_their_width_are_held_back_and_counted() -> None:
    """The rule's cost: two real codes whose regions overlap look like two readings of one code."""
    rng = np.random.default_rng(6)
    frame = scene((1280, 720), rng)
    for data, top in (("4006381333931", 250), ("5901234123457", 250 + 95)):
        symbol = symbol_image("ean13", data, 2.5)[30:125]   # short bars: the two symbols nearly touch
        frame[top:top + symbol.shape[0], 400:400 + symbol.shape[1]] = symbol
    reads = {d.data for d in make_decoder("auto", ["ean13"])(frame)}
    assert {b"4006381333931", b"5901234123457"} <= reads, "both codes are in the frame and decode"
    camera = VirtualCamera(fps=30, size=(1280, 720))
    async with create("cam", "sim+camera", {"source": camera.source, "symbologies": ["ean13"],
                                            "rearm_ms": 100}) as scanner:
        camera.show_image(frame)
        await wait_until(lambda: scanner.counters().get("decoded_frame_count", 0) >= 10, 5)
        camera.blank()   # both leave the view: their tracks expire and are counted
        await wait_until(lambda: scanner.counters()["misreads_suppressed"] >= 2, 5)
        counters = scanner.counters()
    assert counters["good_scan_count"] == 0
    assert counters["failed_scan_count"] >= 2
