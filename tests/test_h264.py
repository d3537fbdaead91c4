"""The ``h264`` rectangle (issues 8 and 15): large motion as one H.264 stream, negotiated, decoded alike.

Real parts: libx264 and FFmpeg's decoder through PyAV, the agent's pipeline, the reference viewer's
:class:`Canvas` and the replay's :class:`ReplayCanvas` (the same decoder: pixel-equal), the wire's
format 3, and the streamer's rule that h264 goes out only when every receiver said it decodes it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from agent.screen.decode import Canvas, FrameError
from agent.screen.h264 import H264Encoder
from agent.screen.hidden import Rect
from agent.screen.pipeline import H264_KEY_SECONDS, H264_WINDOW_SECONDS, EncodedFrame, FramePipeline
from agent.screen.streamer import _Control
from screenfmt.h264 import is_idr, nal_types
from screenfmt.rects import draw_rects, new_video
from wire.frame_format import StreamState, pack3, unpack3
from workbench.replay_canvas import ReplayCanvas

WIDTH, HEIGHT = 321, 181  # odd sides: the encoded picture is padded to even ones


def pattern(shift: int) -> np.ndarray:
    """A textured BGRA screen (8-pixel blocks of many colours), moved right by *shift* pixels."""
    rng = np.random.default_rng(7)
    blocks = rng.integers(0, 2**24, (HEIGHT // 8 + 1, WIDTH // 8 + 2), dtype=np.uint32) | np.uint32(0xFF000000)
    screen = blocks.repeat(8, 0).repeat(8, 1)[:HEIGHT]
    return np.ascontiguousarray(np.roll(screen, shift, axis=1)[:, :WIDTH])


def rgb(frame: np.ndarray) -> np.ndarray:
    return frame.view(np.uint8).reshape(HEIGHT, WIDTH, 4)[:, :, 2::-1]


def motion(pipeline: FramePipeline, count: int, start: float = 100.0, step: float = 0.1,
           first: int = 0) -> list[EncodedFrame]:
    frames = []
    for i in range(count):
        pipeline.current = pattern(5 * (first + i))
        frame = pipeline.produce(start + i * step, 1.7e12 + 100 * i, key=first + i == 0)
        assert frame is not None
        frames.append(frame)
    return frames


def codecs(frame: EncodedFrame) -> list[str]:
    return [rect["codec"] for rect in frame.rects]


def test_motion_goes_out_as_h264_and_both_python_readers_draw_the_same_pixels() -> None:
    pipeline = FramePipeline(WIDTH, HEIGHT)
    pipeline.allow_h264 = True
    frames = motion(pipeline, 6)
    assert "h264" not in codecs(frames[0])  # one frame of change is not motion yet
    assert [codecs(f) for f in frames[1:]] == [["h264"]] * 5
    assert frames[1].key and is_idr(frames[1].data)  # a run starts with an IDR, sent as a key frame
    assert not any(f.key or is_idr(f.data) for f in frames[2:])
    canvas, replay = Canvas(), ReplayCanvas()
    for i, frame in enumerate(frames):
        canvas.apply(frame.body("all"), frame.payload)
        replay.apply(frame.body("all"), frame.payload)
        assert np.array_equal(canvas.pixels, replay.pixels), f"frame {i}: the readers differ"
        error = np.abs(canvas.pixels.astype(np.int16) - rgb(pattern(5 * i))).mean()
        assert error < 20, f"frame {i} is not the screen (mean error {error:.1f})"
    # A replay that starts at the run's IDR key frame draws what a viewer that saw everything drew.
    late = ReplayCanvas()
    for frame in frames[1:]:
        late.apply(frame.body("all"), frame.payload)
    assert np.array_equal(late.pixels, canvas.pixels)


def test_a_replay_that_converts_only_the_last_picture_of_a_run_draws_it_and_its_hidden_areas() -> None:
    """A seek decodes a run from its IDR and converts to RGB only the picture it shows (the replay
    keeps whole-picture h264 frames as planes until read): the same pixels, hidden areas painted."""
    pipeline = FramePipeline(WIDTH, HEIGHT)
    pipeline.allow_h264 = True
    hidden = [Rect(10, 20, 30, 40)]
    frames = []
    for i in range(5):
        screen = pattern(5 * i)
        screen[20:60, 10:40] = 0xFF303030  # the agent fills hidden areas before it encodes
        pipeline.current = screen
        frame = pipeline.produce(100.0 + 0.1 * i, 1.7e12, key=i == 0, hidden=hidden)
        assert frame is not None
        frames.append(frame)
    assert [codecs(f) for f in frames[2:]] == [["h264"]] * 3
    step, seek = ReplayCanvas(), ReplayCanvas()  # step: its pixels read (converted) after every frame
    for frame in frames:
        step.apply(frame.body("all"), frame.payload)
        assert step.pixels.any()
        seek.apply(frame.body("all"), frame.payload)
    assert np.array_equal(seek.pixels, step.pixels)
    assert (seek.pixels[20:60, 10:40] == 0x30).all()
    canvas = Canvas()  # the agent's reference viewer (it leaves hidden areas as the agent filled them)
    for frame in frames:
        canvas.apply(frame.body("all"), frame.payload)
    outside = np.ones((HEIGHT, WIDTH), dtype=np.bool_)
    outside[20:60, 10:40] = False
    assert np.array_equal(seek.pixels[outside], canvas.pixels[outside])


def test_no_h264_unless_allowed_nor_for_solid_changes_and_an_idr_every_few_seconds() -> None:
    plain = FramePipeline(WIDTH, HEIGHT)
    assert all("h264" not in codecs(f) for f in motion(plain, 4))
    solid = FramePipeline(WIDTH, HEIGHT)
    solid.allow_h264 = True
    for i in range(4):  # a full change between solid colours costs fills, not video
        solid.current = np.full((HEIGHT, WIDTH), 0xFF000000 | (0x203040 * (i + 1)), dtype=np.uint32)
        frame = solid.produce(10.0 + i, 1.7e12, key=i == 0)
        assert frame is not None and set(codecs(frame)) == {"fill"}
    pipeline = FramePipeline(WIDTH, HEIGHT)
    pipeline.allow_h264 = True
    frames = motion(pipeline, 12, step=H264_KEY_SECONDS / 4)
    idrs = [i for i, f in enumerate(frames) if "h264" in codecs(f) and is_idr(f.data)]
    assert idrs == [1, 5, 9] and all(frames[i].key for i in idrs)
    # The motion stops: the settled screen is refreshed with today's codecs (H.264 left every tile
    # lossy), and the next run starts with an IDR again.
    pipeline.current = pattern(5 * 11)
    still = pipeline.produce(200.0, 1.7e12)
    assert still is not None and "h264" not in codecs(still) and not still.key
    again = motion(pipeline, 3, start=300.0, first=20)
    assert codecs(again[1]) == ["h264"] and again[1].key and is_idr(again[1].data)


def test_a_small_change_within_a_run_stays_h264_until_the_motion_is_over() -> None:
    """A picture captured half drawn (a small change after a large one) does not end the run: it
    stays a P-frame; once the large change is H264_WINDOW_SECONDS old, small changes are tiles."""
    pipeline = FramePipeline(WIDTH, HEIGHT)
    pipeline.allow_h264 = True
    frames = motion(pipeline, 3)
    assert codecs(frames[2]) == ["h264"]
    refresh_at = pipeline.next_refresh_at()  # the still parts are refreshed once the motion is over
    assert refresh_at is not None and refresh_at >= 100.2 + H264_WINDOW_SECONDS
    touched = pattern(10)
    touched[:16, :16] = 0xFF112233
    pipeline.current = touched
    small = pipeline.produce(100.2 + H264_WINDOW_SECONDS / 2, 1.7e12)
    assert small is not None and codecs(small) == ["h264"] and not small.key and not is_idr(small.data)
    later = touched.copy()
    later[32:48, 32:48] = 0xFF445566
    pipeline.current = later
    settled = pipeline.produce(100.2 + 2 * H264_WINDOW_SECONDS, 1.7e12)
    assert settled is not None and "h264" not in codecs(settled)


def test_pictures_captured_in_strips_while_drawn_are_motion_too() -> None:
    """Each capture sees a third of the next picture (the X server drew it in strips): no frame has
    half the screen changed, the window of H264_WINDOW_SECONDS does, and the run starts."""
    pipeline = FramePipeline(WIDTH, HEIGHT)
    pipeline.allow_h264 = True
    pipeline.current = pattern(0)
    assert pipeline.produce(100.0, 1.7e12, key=True) is not None
    sent = []
    for picture in range(1, 4):
        for strip in range(3):
            screen = pipeline.current.copy()
            rows = slice(strip * HEIGHT // 3, (strip + 1) * HEIGHT // 3)
            screen[rows] = pattern(5 * picture)[rows]
            pipeline.current = screen
            frame = pipeline.produce(100.0 + 0.1 * picture + 0.03 * strip, 1.7e12)
            assert frame is not None
            sent.append(codecs(frame))
    assert not any("h264" in codecs_ for codecs_ in sent[:2]) and all(codecs_ == ["h264"] for codecs_ in sent[2:]), sent


def test_a_receiver_that_does_not_decode_h264_keeps_it_off_for_everyone() -> None:
    control = _Control(viewers=2, viewer_ids=["a", "b"], h264_viewers={"a"})
    assert not control.allow_h264()
    control.h264_viewers.add("b")
    assert control.allow_h264()
    recorder_only = _Control(viewers=1, viewer_ids=["relay-recorder"], h264_viewers={"relay-recorder"})
    assert recorder_only.allow_h264()


def units() -> tuple[bytes, bytes]:
    encoder = H264Encoder(32, 24)
    frame = np.zeros((24, 32), dtype=np.uint32)
    frame[4:12, 4:20] = 0xFF30A0F0
    idr = encoder.encode(frame, True)
    frame[8:16, 10:30] = 0xFFF0A030
    return idr, encoder.encode(frame, False)


def h264_frame(key: bool, unit: bytes, width: int = 32, height: int = 24) -> tuple[dict[str, Any], bytes]:
    rect = {"x": 0, "y": 0, "w": width, "h": height, "codec": "h264", "len": len(unit)}
    return {"fmt": 3}, pack3(2 if key else 3, key, 32, 24, 1.7e12, 1.7e12, [rect], unit)


def test_the_wire_carries_h264_rectangles_and_readers_refuse_malformed_ones() -> None:
    idr, delta = units()
    assert nal_types(idr)[:2] == [7, 8] and is_idr(idr) and not is_idr(delta)
    body, payload = unpack3({"fmt": 3}, h264_frame(True, idr)[1], StreamState())
    assert body["rects"][0]["codec"] == "h264" and payload == idr
    canvas = Canvas()
    canvas.apply({"fmt": 3}, pack3(1, True, 32, 24, 1.7e12, 1.7e12, [
        {"x": 0, "y": 0, "w": 32, "h": 24, "codec": "fill", "rgb": [0, 0, 0], "len": 0}], b""))
    with pytest.raises(FrameError) as needs_key:
        canvas.apply(*h264_frame(False, delta))  # a delta before any IDR of the stream
    assert needs_key.value.code == "frame_needs_key"
    for bad in (b"", b"not annex b", b"\0\0\1\x65" + b"\xff" * 40, idr[:12], b"\0\0\0\1" + bytes(range(256))):
        with pytest.raises(FrameError) as refused:
            Canvas().apply(*h264_frame(True, bad))
        assert refused.value.code in ("bad_frame", "frame_needs_key")
    with pytest.raises(FrameError, match="32x24 for a 16x24"):
        Canvas().apply(*h264_frame(True, idr, width=16))  # the picture is not the rectangle's size
    with pytest.raises(FrameError, match=r"no H\.264 decoder"):
        draw_rects(np.zeros((24, 32, 3), np.uint8), [{"x": 0, "y": 0, "w": 32, "h": 24, "codec": "h264",
                                                      "len": len(idr)}], idr)
    good = Canvas()
    good.apply(*h264_frame(True, idr))
    good.apply(*h264_frame(False, delta))
    assert tuple(good.pixels[10, 15]) != (0, 0, 0)
    video = new_video()
    assert video.decode(idr, 32, 24).shape == (24, 32, 3)
