"""The relay's recorder writing a real file: the bytes it forwards, in hash-chained segments, one write each."""

from __future__ import annotations

import os
from pathlib import Path

from relay.recording import ScreenRecorder, _write_all
from wire.frame_format import pack
from wire.recording import FILE_NAME, scan


def frame(seq: int, key: bool, data: bytes) -> tuple[dict[str, object], bytes]:
    rects = [{"x": 0, "y": 0, "w": 4, "h": 4, "codec": "png", "len": len(data)}]
    return {"fmt": 2}, pack(seq, key, 4, 4, 1.0, rects, data)


def test_segments_hold_the_forwarded_bytes_and_a_key_frame_starts_one(tmp_path: Path) -> None:
    recorder = ScreenRecorder(tmp_path, "s1", "2026-01-01T00:00:00+00:00")
    sent = [frame(1, True, b"a" * 1000), frame(2, False, b"b" * 10), frame(3, True, b"c" * 70000),
            frame(4, False, b"")]
    recorder.add("screen.info", {"width": 4, "height": 4}, None)
    for body, payload in sent:
        recorder.add("screen.frame", body, payload)
    recorder.close()
    found = scan(tmp_path / "recording" / FILE_NAME)  # every payload hashed against its segment's header
    assert found.stopped is None and [s.key for s in found.segments] == [False, True, True]
    assert [s.header["payload_bytes"] for s in found.segments] == [
        0, len(sent[0][1]) + len(sent[1][1]), len(sent[2][1]) + len(sent[3][1])]
    with open(found.path, "rb") as f:
        kept = []
        for segment in found.segments:
            for _t, name, body, offset, length in segment.header["events"]:
                f.seek(segment.payload_offset + offset)
                kept.append((name, body, f.read(length)))
    assert kept[0] == ("screen.info", {"width": 4, "height": 4}, b"")
    # The bodies carry seq and key (the seek index); the bytes are exactly those forwarded.
    assert [(body["seq"], body["key"], data) for _name, body, data in kept[1:]] == [
        (1, True, sent[0][1]), (2, False, sent[1][1]), (3, True, sent[2][1]), (4, False, sent[3][1])]


def test_a_restarted_recorder_continues_the_chain(tmp_path: Path) -> None:
    first = ScreenRecorder(tmp_path, "s1", "2026-01-01T00:00:00+00:00")
    first.add("screen.frame", *frame(1, True, b"x" * 50))
    first.close()
    second = ScreenRecorder(tmp_path, "s1", "2026-01-01T00:00:00+00:00")
    second.add("screen.frame", *frame(2, True, b"y" * 50))
    second.close()
    found = scan(tmp_path / "recording" / FILE_NAME)
    assert found.stopped is None and [s.seq for s in found.segments] == [1, 2]


def test_write_all_writes_more_parts_than_one_writev_takes(tmp_path: Path) -> None:
    parts = [bytes([n % 256]) * (n % 7) for n in range(3000)]
    fd = os.open(tmp_path / "out", os.O_WRONLY | os.O_CREAT)
    try:
        _write_all(fd, parts)
    finally:
        os.close(fd)
    assert (tmp_path / "out").read_bytes() == b"".join(parts)
