"""The one frame decoder (screenfmt): the agent's reference viewer and the technician's replay draw the same.

The technician's install has no simplejpeg, so there JPEG goes through Pillow: both must give
the very pixels (a recording replays exactly what the technician's Chromium drew).
"""

from __future__ import annotations

import pytest

from agent.screen.decode import Canvas
from agent.screen.encode import encode_jpeg
from agent.screen.hidden import Rect
from agent.screen.pipeline import FramePipeline
from screenfmt import rects
from screenfmt.rects import FrameError, decode_rect
from tests.test_screen_pipeline import photo
from wire.errors import RecordingError
from workbench.replay_canvas import HIDDEN_FILL, ReplayCanvas


@pytest.mark.parametrize(("width", "height"), [(640, 360), (333, 97)])
def test_jpeg_through_pillow_gives_the_pixels_simplejpeg_gives(width: int, height: int,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    data = encode_jpeg(photo(height, width, seed=width), Rect(0, 0, width, height), 60)  # as the agent sends
    fast = decode_rect("jpeg", data, width, height)
    monkeypatch.setattr(rects, "_simplejpeg", None)  # the technician's install
    pillow = decode_rect("jpeg", data, width, height)
    assert pillow.shape == (height, width, 3)
    assert (pillow == fast).all()
    with pytest.raises(FrameError, match="header says"):
        decode_rect("jpeg", data, width + 1, height)  # the size is checked before any pixel is decoded
    with pytest.raises(FrameError, match="does not decode"):
        decode_rect("jpeg", data[:40], width, height)


def test_the_reference_viewer_and_the_replay_draw_a_stream_alike() -> None:
    pipeline = FramePipeline(320, 192)
    viewer, replay = Canvas(), ReplayCanvas()
    pictures = [photo(192, 320, seed) for seed in range(3)]
    pictures[1][64:128, :] = pictures[0][64:128, :]  # a partial change
    pictures[2][:, :] = 0xFF2060C0  # a solid screen: fills
    now, codecs = 0.0, set()
    for picture in pictures:
        pipeline.current[:] = picture
        frame = pipeline.produce(now, 0.0, key=now == 0.0, hidden=[Rect(10, 10, 20, 20)])
        assert frame is not None
        body = frame.body("all")
        body["hidden"] = [{"x": 10, "y": 10, "w": 20, "h": 20, "label": "hidden"}]
        viewer.apply(body, frame.payload)
        replay.apply(body, frame.payload)
        expected = viewer.pixels.copy()
        expected[10:30, 10:30] = HIDDEN_FILL  # the widget paints hidden areas; the reference viewer keeps them
        assert (replay.pixels == expected).all()
        assert replay.seq == viewer.seq == frame.seq
        now += 1.0
        codecs = {r["codec"] for r in frame.rects}
    assert codecs == {"fill"}


def test_the_replay_reports_a_bad_frame_as_a_recording_error() -> None:
    replay = ReplayCanvas()
    rect = {"x": 0, "y": 0, "w": 64, "h": 64, "codec": "png", "len": 4}
    body = {"seq": 1, "width": 64, "height": 64, "rects": [rect]}
    with pytest.raises(RecordingError, match="png rectangle that does not decode"):
        replay.apply(body, b"\x89PNG")
    with pytest.raises(RecordingError, match="outside the frame"):
        replay.apply({**body, "rects": [{**rect, "x": 1}]}, b"\x89PNG")
