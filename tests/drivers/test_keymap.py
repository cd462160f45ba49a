"""Layouts as data, modifiers, GS entry, gaps, and the raw input_event codec the HID driver and simulator share."""

from __future__ import annotations

import asyncio
import errno
import fcntl
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers import hid
from drivers.evdev_codec import EventDecoder, InputEvent, encode, key_event, syn_event
from drivers.keymap import WedgeDecoder
from simulators.devices.hid import SimHidScanner, VirtualKeyboardWedge, events_for

TEXT = "AZaz09-./"


def decode(events: list[InputEvent], layout: str, inter_key_s: float = 0.1) -> list[str]:
    decoder = WedgeDecoder(layout, inter_key_s)
    return [code for ev in events if (code := decoder.event(ev)) is not None]


@pytest.mark.parametrize("layout", ["us", "jp", "de", "fr"])
@pytest.mark.parametrize("text", ["4006381333931", TEXT, "\x1d0104006381333931\x1d10ABC", "!\"#$%&'()"])
def test_what_a_wedge_types_in_a_layout_decodes_back_in_that_layout(layout: str, text: str) -> None:
    assert decode(events_for(text, layout), layout) == [text]


@pytest.mark.parametrize(("keys", "layout", "expected"), [
    ([(42, 1), (3, 1), (3, 0), (42, 0)], "us", "@"),       # shift+2
    ([(42, 1), (3, 1), (3, 0), (42, 0)], "jp", '"'),       # the same keys on JIS
    ([(42, 1), (3, 1), (3, 0), (42, 0)], "de", '"'),
    ([(26, 1), (26, 0)], "jp", "@"),                        # JIS has @ on its own key
    ([(21, 1), (21, 0), (44, 1), (44, 0)], "de", "zy"),     # QWERTZ
    ([(2, 1), (2, 0)], "fr", "&"),                          # AZERTY digit row needs shift for digits
    ([(100, 1), (16, 1), (16, 0), (100, 0)], "de", "@"),    # AltGr+Q
    ([(58, 1), (58, 0), (30, 1), (30, 0), (2, 1), (2, 0)], "us", "A1"),   # caps lock: letters only
    ([(58, 1), (58, 0), (42, 1), (30, 1), (30, 0), (42, 0)], "us", "a"),  # caps + shift
    ([(29, 1), (27, 1), (27, 0), (29, 0)], "us", "\x1d"),   # Ctrl+] = GS
    ([(29, 1), (43, 1), (43, 0), (29, 0)], "jp", "\x1d"),   # Ctrl+] where ] lives on JIS
    ([(56, 1), (82, 1), (82, 0), (80, 1), (80, 0), (73, 1), (73, 0), (56, 0)], "us", "\x1d"),   # Alt+029
    ([(56, 1), (79, 1), (79, 0), (80, 1), (80, 0), (56, 0)], "us", "\x0c"),  # Alt+12
    ([(30, 1), (30, 2), (30, 2), (30, 0)], "us", "aaa"),    # autorepeat types again
])
def test_keys_and_modifiers(keys: list[tuple[int, int]], layout: str, expected: str) -> None:
    events = [key_event(i * 0.001, code, value) for i, (code, value) in enumerate([*keys, (28, 1), (28, 0)])]
    assert decode(events, layout) == [expected]


def test_a_gap_longer_than_inter_key_time_drops_the_partial_code() -> None:
    stray = events_for("x7", "us")[:-2]                     # no Enter
    scan = events_for("12345670", "us", start=stray[-1].time + 0.5)
    decoder = WedgeDecoder("us", 0.1)
    assert [c for ev in stray + scan if (c := decoder.event(ev))] == ["12345670"]
    assert decoder.dropped_gap == 1


def test_a_kernel_overrun_drops_the_partial_code() -> None:
    events = events_for("123", "us")[:-2] + [syn_event(0.1, 3)] + events_for("456", "us", start=0.1)
    decoder = WedgeDecoder("us")
    assert [c for ev in events if (c := decoder.event(ev))] == ["456"]
    assert decoder.dropped_overrun == 1


def test_an_endless_line_is_dropped_up_to_enter() -> None:
    decoder = WedgeDecoder("us", max_length=8)
    out = [c for ev in events_for("1" * 20, "us") + events_for("42", "us", start=1) if (c := decoder.event(ev))]
    assert out == ["42"]
    assert decoder.dropped_too_long == 1


def test_input_events_survive_any_chunking() -> None:
    events = events_for("4006381333931", "us")
    stream = b"".join(encode(e) for e in events)
    decoder = EventDecoder()
    got = [e for i in range(0, len(stream), 7) for e in decoder.feed(stream[i:i + 7])]
    assert got == events


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=40))
def test_random_bytes_into_the_event_decoder_and_keymap_never_raise(chunks: list[bytes]) -> None:
    raw, wedge = EventDecoder(), WedgeDecoder("jp", max_length=64)
    for chunk in chunks:
        for ev in raw.feed(chunk):
            code = wedge.event(ev)
            assert code is None or len(code) <= 64
        assert len(raw._rest) < 24


def test_grab_takes_the_device_exclusively_and_busy_is_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one thing no simulator can provide here is EVIOCGRAB on an evdev node; fake only that ioctl."""
    calls: list[tuple[int, int]] = []

    def fake_ioctl(fd: int, request: int, arg: int) -> int:
        calls.append((request, arg))
        raise OSError(errno.EBUSY, "Device or resource busy")

    monkeypatch.setattr(fcntl, "ioctl", fake_ioctl)
    with tempfile.NamedTemporaryFile() as node:
        scanner = hid.HidScanner("wedge", {"path": node.name})
        with pytest.raises(hid.DeviceUnavailable) as busy:
            asyncio.run(scanner.__aenter__())
    assert calls == [(hid.EVIOCGRAB, 1)]
    assert busy.value.reason is hid.UnavailableReason.BUSY
    assert "grabbed" in str(busy.value)


def test_layout_mismatch_is_flagged_when_us_would_have_read_a_valid_gtin() -> None:
    async def run() -> tuple[str, dict[str, int], str]:
        with VirtualKeyboardWedge(layout="us") as sim:
            scanner = SimHidScanner("wedge", {"path": sim.path, "layout": "fr"})
            async with scanner:
                sim.type("4006381333931")
                async with asyncio.timeout(5):
                    event = await anext(aiter(scanner.scans()))
                return event.text, dict(scanner.counters()), str(scanner.details().get("hint", ""))

    text, counters, hint = asyncio.run(run())
    assert text != "4006381333931"
    assert counters["layout_mismatch_count"] == 1
    assert 'layout = "us"' in hint
