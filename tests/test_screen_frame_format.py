"""The compact frame format (format 2): what is packed is read back; what is cut short is refused."""

from __future__ import annotations

import pytest

from agent.screen.decode import Canvas, FrameError
from wire.frame_format import FrameFormatError, header_size, pack, unpack

RECTS = [
    {"x": 0, "y": 10, "w": 64, "h": 54, "codec": "copy", "sx": 0, "sy": 0, "len": 0},
    {"x": 0, "y": 0, "w": 64, "h": 10, "codec": "fill", "rgb": [1, 2, 3], "len": 0},
    {"x": 3, "y": 4, "w": 1, "h": 2, "codec": "raw", "len": 8},
]


def test_a_packed_frame_reads_back_as_the_json_format() -> None:
    data = bytes(range(8))
    payload = pack(70000, True, 64, 64, 1733539200123.4, RECTS, data)
    assert len(payload) == header_size(RECTS) + len(data)
    body, rest = unpack({"fmt": 2, "hidden": [{"x": 1, "y": 1, "w": 2, "h": 2, "label": "Hidden"}]}, payload)
    assert rest == data
    assert body == {"seq": 70000, "key": True, "width": 64, "height": 64, "captured_at": 1733539200123.4,
                    "rects": RECTS, "hidden": [{"x": 1, "y": 1, "w": 2, "h": 2, "label": "Hidden"}],
                    "paused": False, "monitor": "all", "x": 0, "y": 0}
    assert unpack({"fmt": 2, "monitor": 1}, payload)[0]["monitor"] == 1
    moved = unpack({"fmt": 2, "monitor": 1, "x": 1920, "y": -40}, payload)[0]
    assert (moved["x"], moved["y"]) == (1920, -40)  # the frame's own origin, for the pointer


def test_a_frame_cut_anywhere_in_its_header_is_refused() -> None:
    payload = pack(1, False, 64, 64, 0.0, RECTS, bytes(8))
    for cut in range(header_size(RECTS)):
        with pytest.raises(FrameFormatError):
            unpack({"fmt": 2}, payload[:cut])


def test_values_the_format_cannot_hold_are_refused_when_packing() -> None:
    with pytest.raises(FrameFormatError):
        pack(1, False, 70000, 64, 0.0, [], b"")
    with pytest.raises(FrameFormatError):
        pack(1, False, 64, 64, 0.0, [{"x": 0, "y": 0, "w": 1, "h": 1, "codec": "webp", "len": 0}], b"")


def test_the_reference_viewer_draws_format_2_and_refuses_other_formats() -> None:
    canvas = Canvas()
    raw = bytes([9, 8, 7, 0]) * 2
    canvas.apply({"fmt": 2}, pack(1, True, 4, 4, 0.0, [
        {"x": 0, "y": 0, "w": 4, "h": 4, "codec": "fill", "rgb": [200, 100, 50], "len": 0},
        {"x": 3, "y": 2, "w": 1, "h": 2, "codec": "raw", "len": 8}], raw))
    assert canvas.pixels[0, 0].tolist() == [200, 100, 50] and canvas.pixels[3, 3].tolist() == [7, 8, 9]
    for fmt in (4, "2", "3", True, None):
        with pytest.raises(FrameError):
            canvas.apply({"fmt": fmt}, b"")
    unknown_codec = bytearray(pack(1, False, 4, 4, 0.0, [{"x": 0, "y": 0, "w": 1, "h": 1, "codec": "fill",
                                                           "rgb": [0, 0, 0], "len": 0}], b""))
    unknown_codec[19] = 9
    with pytest.raises(FrameError, match="codec number 9"):
        canvas.apply({"fmt": 2}, bytes(unknown_codec))
