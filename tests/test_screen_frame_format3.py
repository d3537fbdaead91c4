"""Format 3, the lean frame layout the agent sends: size and time base from the stream's key frame,
varints everywhere; what is packed reads back, what is malformed is refused with a code."""

from __future__ import annotations

import pytest

from agent.screen.decode import Canvas, FrameError
from wire.frame_format import FrameFormatError, FrameNeedsKey, StreamState, index_fields, pack3, unpack3

BASE = 1733539200123.4
RECTS = [
    {"x": 0, "y": 10, "w": 64, "h": 54, "codec": "copy", "sx": 0, "sy": 0, "len": 0},
    {"x": 0, "y": 0, "w": 64, "h": 10, "codec": "fill", "rgb": [1, 2, 3], "len": 0},
    {"x": 3, "y": 4, "w": 1, "h": 2, "codec": "raw", "len": 8},
]
SOLID = [{"x": 0, "y": 0, "w": 1920, "h": 1080, "codec": "fill", "rgb": [0, 0, 255], "len": 0}]


def test_a_key_frame_sets_the_size_and_time_base_the_next_frames_read_with() -> None:
    state = StreamState()
    key, rest = unpack3({"fmt": 3}, pack3(70000, True, 1920, 1080, BASE, BASE, SOLID, b""), state)
    assert rest == b"" and key["rects"] == SOLID
    assert (key["seq"], key["key"], key["width"], key["height"], key["captured_at"]) == (70000, True, 1920, 1080, BASE)
    assert state == StreamState(1920, 1080, BASE, True)
    data = bytes(range(8))
    body, rest = unpack3({"fmt": 3, "monitor": 1, "x": -1920}, pack3(70001, False, 0, 0, BASE + 75.04, BASE,
                                                                      RECTS, data), state)
    assert rest == data
    assert body == {"seq": 70001, "key": False, "width": 1920, "height": 1080, "captured_at": BASE + 75,
                    "rects": RECTS, "hidden": [], "paused": False, "monitor": 1, "x": -1920, "y": 0}
    resized = unpack3({"fmt": 3}, pack3(70002, False, 800, 600, BASE + 80, BASE, [], b"", size=True), state)[0]
    assert (resized["width"], resized["height"], state.width) == (800, 600, 800)
    assert index_fields({"fmt": 3}, pack3(300, True, 4, 4, BASE, BASE, [], b"")) == {"seq": 300, "key": True}


def test_a_typing_frame_and_a_solid_screen_cost_a_few_bytes() -> None:
    glyph = [{"x": 812, "y": 403, "w": 7, "h": 13, "codec": "pal", "len": 30}]
    assert len(pack3(20000, False, 1920, 1080, BASE + 60_000, BASE, glyph, b"")) <= 16
    assert len(pack3(20000, False, 1920, 1080, BASE + 60_000, BASE, SOLID, b"")) <= 18


def test_a_frame_before_any_key_frame_needs_one_and_leaves_the_state_alone() -> None:
    state = StreamState()
    with pytest.raises(FrameNeedsKey) as caught:
        unpack3({"fmt": 3}, pack3(5, False, 4, 4, BASE, BASE, [], b""), state)
    assert caught.value.code == "frame_needs_key" and not state.known
    canvas = Canvas()
    with pytest.raises(FrameError) as refused:
        canvas.apply({"fmt": 3}, pack3(5, False, 4, 4, BASE, BASE, [], b""))
    assert refused.value.code == "frame_needs_key"


def test_a_frame_cut_anywhere_in_its_header_is_refused_with_bad_frame() -> None:
    key = pack3(1, True, 64, 64, BASE, BASE, RECTS, bytes(8))
    frame = pack3(2, False, 64, 64, BASE + 1, BASE, RECTS, bytes(8))
    for payload, header in ((key, len(key) - 8), (frame, len(frame) - 8)):
        for cut in range(header):
            state = StreamState(64, 64, BASE, True)
            with pytest.raises(FrameFormatError) as caught:
                unpack3({"fmt": 3}, payload[:cut], state)
            assert caught.value.code == "bad_frame" and state == StreamState(64, 64, BASE, True)


@pytest.mark.parametrize(("payload", "fragment"), [
    (b"\x05\x01" + b"\x00" * 4, "time base"),  # a key frame cut in its f64
    (b"\x05\x01" + b"\x7f\xf8" + b"\x00" * 6 + b"\x04\x04\x00", "not a number"),  # NaN base
    (b"\x01\x01" + b"\x00" * 8 + b"\x00", "without its size"),
    (b"\x00\xff\xff\xff\xff\x7f", "seq"),  # a varint past 2**32
    (b"\x00\x01\x00\x01\x09\x00\x00\x01\x01", "codec number 9"),
])
def test_malformed_format_3_headers_are_refused(payload: bytes, fragment: str) -> None:
    with pytest.raises(FrameFormatError, match=fragment):
        unpack3({"fmt": 3}, payload, StreamState(4, 4, BASE, True))


def test_values_the_format_cannot_hold_are_refused_when_packing() -> None:
    with pytest.raises(FrameFormatError):
        pack3(1, True, -1, 64, BASE, BASE, [], b"")
    with pytest.raises(FrameFormatError):
        pack3(1, False, 64, 64, BASE, BASE, [{"x": 0, "y": 0, "w": 1, "h": 1, "codec": "webp", "len": 0}], b"")


def test_the_reference_viewer_draws_a_format_3_stream() -> None:
    canvas = Canvas()
    canvas.apply({"fmt": 3}, pack3(1, True, 4, 4, BASE, BASE, [
        {"x": 0, "y": 0, "w": 4, "h": 4, "codec": "fill", "rgb": [200, 100, 50], "len": 0}], b""))
    canvas.apply({"fmt": 3}, pack3(2, False, 4, 4, BASE + 3, BASE, [
        {"x": 3, "y": 2, "w": 1, "h": 2, "codec": "raw", "len": 8}], bytes([9, 8, 7, 0]) * 2))
    assert canvas.pixels[0, 0].tolist() == [200, 100, 50] and canvas.pixels[3, 3].tolist() == [7, 8, 9]
    assert canvas.seq == 2 and canvas.pixels.shape == (4, 4, 3)
