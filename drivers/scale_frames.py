"""Cutting a serial scale's replies out of the bytes received: pure, so the drivers stay I/O glue.

A scale's reply is a frame between a start byte and an end byte; anything outside frames is line noise (a
replug, a wrong baud rate, a half reply left from an abandoned request), skipped and counted by the caller.
"""

from __future__ import annotations


def cut(buffer: bytes, start: bytes, end: bytes, max_length: int) -> tuple[list[bytes], bytes, int]:
    """Frames `start ... end` out of `buffer`: (frames, the unfinished rest, bytes skipped as noise)."""
    frames: list[bytes] = []
    skipped = 0
    while buffer:
        at = buffer.find(start)
        if at < 0:
            return frames, b"", skipped + len(buffer)
        skipped += at
        buffer = buffer[at:]
        stop = buffer.find(end, len(start))
        if stop < 0:
            if len(buffer) > max_length:          # a start byte that never ends: noise, look past it
                buffer, skipped = buffer[1:], skipped + 1
                continue
            return frames, buffer, skipped
        frame, buffer = buffer[:stop + len(end)], buffer[stop + len(end):]
        if len(frame) > max_length:
            skipped += 1
            buffer = frame[1:] + buffer
            continue
        frames.append(frame)
    return frames, b"", skipped
