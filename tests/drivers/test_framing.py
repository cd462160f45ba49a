"""Framing and AIM parsing as tables; random bytes into every framer never raise and never grow memory."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.aim import gtin_check_ok, split_aim, symbology_for
from drivers.framing import Framer, FramingOptions, parse_terminator

CR = FramingOptions(terminator=b"\r")


def frames(options: FramingOptions, *chunks: bytes, gap_s: float = 0.0) -> tuple[list[bytes], Framer]:
    framer = Framer(options)
    out: list[bytes] = []
    for i, chunk in enumerate(chunks):
        out += [f.payload for f in framer.feed(chunk, now=i * gap_s)]
    return out, framer


@pytest.mark.parametrize(("options", "chunks", "expected"), [
    (CR, [b"123\r"], [b"123"]),
    (CR, [b"123\r\n456\r\n"], [b"123", b"456"]),                 # CRLF from a CR-configured port: no empty scan
    (CR, [b"12", b"3\r", b"\n4", b"56\r"], [b"123", b"456"]),     # any chunking
    (FramingOptions(terminator=b"\n"), [b"123\n\r\n"], [b"123"]),
    (FramingOptions(terminator=b"\r\n"), [b"123\r\n"], [b"123"]),
    (FramingOptions(terminator=b"#END"), [b"12#E", b"ND34#END"], [b"12", b"34"]),
    (FramingOptions(terminator=b"\x03"), [b"A\x1dB\x03"], [b"A\x1dB"]),   # GS (FNC1) is kept
    (FramingOptions(stx_etx=True, terminator=b""), [b"\x02123\x03\r\n\x02456\x03"], [b"123", b"456"]),
    (FramingOptions(prefix=b"PRE", suffix=b"SUF"), [b"PRE123SUF\r"], [b"123"]),
    (FramingOptions(prefix=b"PRE"), [b"123\r"], [b"123"]),          # a missing prefix is not an error
])
def test_framer_cuts_codes(options: FramingOptions, chunks: list[bytes], expected: list[bytes]) -> None:
    assert frames(options, *chunks)[0] == expected


def test_a_line_past_max_length_is_dropped_to_its_terminator_and_counted_once() -> None:
    out, framer = frames(FramingOptions(max_length=16), b"x" * 50, b"y" * 50 + b"\r", b"ok\r")
    assert out == [b"ok"]
    assert framer.counters.too_long == 1


def test_a_partial_line_older_than_the_timeout_is_dropped() -> None:
    out, framer = frames(FramingOptions(frame_timeout_s=0.1), b"\x00\xffjunk", b"123\r", gap_s=0.5)
    assert out == [b"123"]
    assert framer.counters.stale == 1


def test_bytes_outside_stx_etx_and_control_bytes_inside_a_frame_are_garbage() -> None:
    out, framer = frames(FramingOptions(stx_etx=True, terminator=b""), b"zz\x02ok\x03", b"\x02a\x00b\x03")
    assert out == [b"ok"]
    assert framer.counters.garbage == 3


@pytest.mark.parametrize(("value", "expected"), [("cr", b"\r"), ("CRLF", b"\r\n"), ("\r", b"\r"), ("#", b"#")])
def test_terminator_names_and_literals(value: str, expected: bytes) -> None:
    assert parse_terminator(value) == expected


@pytest.mark.parametrize(("payload", "aim", "symbology"), [
    (b"]E04006381333931", "]E0", "ean13"),
    (b"]E0036000291452", "]E0", "upca"),
    (b"]E412345670", "]E4", "ean8"),
    (b"]C1\x1d0104006381333931", "]C1", "gs1-128"),
    (b"]C0ABC", "]C0", "code128"),
    (b"]e00104006381333931", "]e0", "databar"),
    (b"]e0010400638133393117261231", "]e0", "databar-expanded"),
    (b"]Q1hello", "]Q1", "qr"),
    (b"]Q3010400638133393110AB", "]Q3", "gs1-qr"),
    (b"]d2010400638133393110AB", "]d2", "gs1-datamatrix"),
    (b"]d1text", "]d1", "datamatrix"),
    (b"]I11234567890128", "]I1", "itf"),
    (b"]X0what", "]X0", "unknown"),
    (b"4006381333931", None, "ean13"),      # no AIM: a valid GTIN shape is recognised
    (b"4006381333932", None, "unknown"),    # bad check digit
])
def test_aim_identifiers_name_the_symbology(payload: bytes, aim: str | None, symbology: str) -> None:
    got_aim, data = split_aim(payload)
    assert got_aim == aim
    assert symbology_for(got_aim, data) == symbology


def test_gtin_check_digits() -> None:
    assert gtin_check_ok("4006381333931") and gtin_check_ok("12345670") and gtin_check_ok("036000291452")
    assert not gtin_check_ok("4006381333930") and not gtin_check_ok("12345") and not gtin_check_ok("١٢٣٤٥٦٧٠")


FRAMERS = [CR, FramingOptions(terminator=b"\r\n"), FramingOptions(terminator=b"#END"),
           FramingOptions(stx_etx=True, terminator=b""), FramingOptions(stx_etx=True, prefix=b"P", suffix=b"S"),
           FramingOptions(max_length=16, frame_timeout_s=0.01)]


@settings(max_examples=150, deadline=None)
@given(chunks=st.lists(st.binary(max_size=300), max_size=30), gaps=st.lists(st.floats(0, 1), min_size=30,
                                                                             max_size=30))
@pytest.mark.parametrize("options", FRAMERS)
def test_random_bytes_never_raise_and_memory_stays_bounded(options: FramingOptions, chunks: list[bytes],
                                                           gaps: list[float]) -> None:
    framer, now = Framer(options), 0.0
    for chunk, gap in zip(chunks, gaps, strict=False):
        now += gap
        for frame in framer.feed(chunk, now):
            assert len(frame.payload) <= options.max_length
            assert b"\x00" not in frame.payload
        assert framer.pending <= options.max_length + len(options.terminator)
