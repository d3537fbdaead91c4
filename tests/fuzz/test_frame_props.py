"""The Python frame decoder (agent.screen.decode.Canvas) under random frame bodies: FrameError or a drawn frame.

The coverage-guided run (tests/fuzz/test_atheris_runs.py) mutates bytes; JSON bodies that
are valid but wrong — a field missing, of another type, negative, a rectangle that is
not an object — are reached far more often from a generator of JSON values, here.
The property: :meth:`Canvas.apply` draws the frame or raises :class:`FrameError`, nothing else.
"""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from agent.screen.decode import Canvas, FrameError
from tests.fuzz.bounded import bounded
from tests.fuzz.test_protocol_props import json_values

small = st.integers(-2, 20)
codecs = st.sampled_from(["raw", "png", "jpeg", "copy", "fill", "pal", "h264", "webp", ""])
rects = st.fixed_dictionaries(
    {"x": small, "y": small, "w": small, "h": small, "len": st.integers(0, 64), "codec": codecs},
    optional={"sx": small, "sy": small},
)


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {"seq": draw(small), "width": draw(small), "height": draw(small),
                            "rects": draw(st.lists(rects, max_size=3))}
    for _ in range(draw(st.integers(0, 2))):  # then something wrong, somewhere
        where: dict[str, Any] = body
        listed = body.get("rects")
        inner = [r for r in listed if isinstance(r, dict) and r] if isinstance(listed, list) else []
        if inner and draw(st.booleans()):
            where = draw(st.sampled_from(inner))
        if not where:
            break
        key = draw(st.sampled_from(sorted(where)))
        if draw(st.booleans()):
            del where[key]
        else:
            where[key] = draw(json_values)
    if draw(st.booleans()):
        body["hidden"] = draw(json_values)
    return body


@given(bodies(), st.binary(max_size=200))
@bounded(400)
def test_a_frame_body_is_drawn_or_refused_with_frame_error(body: dict[str, Any], payload: bytes) -> None:
    canvas = Canvas()
    for _ in range(2):
        with contextlib.suppress(FrameError):
            canvas.apply(body, payload)


@given(json_values, st.binary(max_size=16))
@bounded(100)
def test_any_json_value_as_a_body_is_refused_with_frame_error(body: Any, payload: bytes) -> None:
    with contextlib.suppress(FrameError):
        Canvas().apply(body, payload)


@given(st.binary(max_size=300), st.sampled_from([{"fmt": 2}, {"fmt": 2, "monitor": 0}, {"fmt": 2, "hidden": 5}]))
@bounded(300)
def test_a_format_2_payload_of_any_bytes_is_drawn_or_refused_with_frame_error(payload: bytes,
                                                                              body: dict[str, Any]) -> None:
    canvas = Canvas()
    for _ in range(2):
        with contextlib.suppress(FrameError):
            canvas.apply(dict(body), payload)


@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 24), st.integers(0, 24), st.integers(0, 24),
                          st.integers(0, 24), st.binary(min_size=3, max_size=4)), max_size=4),
       st.integers(0, 24), st.integers(0, 24), st.binary(max_size=64))
@bounded(300)
def test_a_well_formed_format_2_table_of_any_values_is_drawn_or_refused(
        rects: list[tuple[int, int, int, int, int, bytes]], width: int, height: int, data: bytes) -> None:
    import struct

    table = b"".join(struct.pack(">BHHHH", *r[:5]) + r[5] for r in rects)
    payload = struct.pack(">IdHHBH", 1, 0.0, width, height, 1, len(rects)) + table + data
    with contextlib.suppress(FrameError):
        Canvas().apply({"fmt": 2}, payload)


@given(st.binary(max_size=80), st.integers(0, 20), st.integers(0, 20))
@bounded(300)
def test_a_pal_rectangle_of_any_bytes_decodes_to_its_size_or_is_refused(data: bytes, width: int, height: int) -> None:
    from agent.screen.decode import decode_rect

    with contextlib.suppress(FrameError):
        assert decode_rect("pal", data, width, height).shape == (height, width, 3)


def keyed_canvas() -> Canvas:
    """A canvas that has drawn a 16×16 format-3 key frame: what a format-3 frame after it reads with."""
    from wire.frame_format import pack3

    canvas = Canvas()
    canvas.apply({"fmt": 3}, pack3(1, True, 16, 16, 1.0, 1.0, [
        {"x": 0, "y": 0, "w": 16, "h": 16, "codec": "fill", "rgb": [1, 2, 3], "len": 0}], b""))
    return canvas


@given(st.binary(max_size=300), st.sampled_from([{"fmt": 3}, {"fmt": 3, "monitor": 0}, {"fmt": 3, "hidden": 5}]))
@bounded(300)
def test_a_format_3_payload_of_any_bytes_is_drawn_or_refused_with_frame_error(payload: bytes,
                                                                              body: dict[str, Any]) -> None:
    """Before any key frame (its size and time base unknown) and after one."""
    for canvas in (Canvas(), keyed_canvas()):
        for _ in range(2):
            with contextlib.suppress(FrameError):
                canvas.apply(dict(body), payload)


@given(st.lists(st.tuples(st.integers(0, 6), st.lists(st.integers(0, 300), min_size=4, max_size=4),
                          st.binary(min_size=1, max_size=3)), max_size=4),
       st.integers(0, 7), st.integers(0, 24), st.integers(0, 24), st.binary(max_size=64))
@bounded(300)
def test_a_well_formed_format_3_table_of_any_values_is_drawn_or_refused(
        rects: list[tuple[int, list[int], bytes]], flags: int, width: int, height: int, data: bytes) -> None:
    import struct

    from wire.frame_format import _varint

    head = bytes((flags,)) + _varint(2) + (struct.pack(">d", 5.0) if flags & 1 else _varint(3))
    if flags & 4:
        head += _varint(width) + _varint(height)
    table = b"".join(bytes((codec,)) + b"".join(_varint(v) for v in values) + extra for codec, values, extra in rects)
    for canvas in (Canvas(), keyed_canvas()):
        with contextlib.suppress(FrameError):
            canvas.apply({"fmt": 3}, head + _varint(len(rects)) + table + data)


_H264_UNITS: list[bytes] = []


def _h264_units() -> list[bytes]:
    """An IDR and a delta access unit of a 32×24 stream, from the agent's encoder (made once)."""
    if not _H264_UNITS:
        import numpy as np

        from agent.screen.h264 import H264Encoder

        encoder = H264Encoder(32, 24)
        frame = np.zeros((24, 32), dtype=np.uint32)
        frame[4:12, 4:20] = 0xFF30A0F0
        _H264_UNITS.append(encoder.encode(frame, True))
        frame[8:16, 10:30] = 0xFFF0A030
        _H264_UNITS.append(encoder.encode(frame, False))
    return _H264_UNITS


@given(st.integers(0, 1), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
       st.integers(0, 10_000))
@bounded(200)
def test_a_damaged_h264_rectangle_is_drawn_or_refused_with_frame_error(which: int, changes: list[tuple[int, int]],
                                                                       cut: int) -> None:
    """Real access units with bytes changed and cut: FrameError or a drawn picture, never another error."""
    from wire.frame_format import pack3

    idr, delta = _h264_units()
    unit = bytearray((idr, delta)[which])
    for position, value in changes:
        unit[position % len(unit)] = value
    unit = unit[: max(1, len(unit) - cut % 64)]
    canvas = Canvas()
    for key, data in ((True, idr), (which == 0, bytes(unit)), (False, bytes(unit))):
        rect = {"x": 0, "y": 0, "w": 32, "h": 24, "codec": "h264", "len": len(data)}
        with contextlib.suppress(FrameError):
            canvas.apply({"fmt": 3}, pack3(1, key, 32, 24, 1.0, 1.0, [rect], data))
