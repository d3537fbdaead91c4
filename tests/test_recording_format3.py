"""A recording of format-3 frames (size and time base only in key frames) replays and seeks.

The relay's recorder starts a segment at each key frame and closes one after SEGMENT_SECONDS, so
a segment may open with frames that are not key frames: the replay decodes from the key frame
before the time asked and carries the stream's state across segments.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from relay.recording import ScreenRecorder
from wire.errors import RecordingError
from wire.frame_format import pack3
from wire.recording import FILE_NAME
from workbench.recordings import Recording
from workbench.replay_canvas import ReplayCanvas

BASE = 1733539200000.0


def fill(seq: int, key: bool, x: int, rgb: list[int]) -> tuple[dict[str, object], bytes]:
    rects = [{"x": x, "y": 0, "w": 8 if key else 2, "h": 4, "codec": "fill", "rgb": rgb, "len": 0}]
    return {"fmt": 3}, pack3(seq, key, 8, 4, BASE + 40 * seq, BASE, rects, b"")


def test_a_seek_into_a_segment_that_opens_without_a_key_frame_decodes_from_the_key_frame(tmp_path: Path) -> None:
    recorder = ScreenRecorder(tmp_path, "s1", "2026-01-01T00:00:00+00:00")
    recorder.add("screen.frame", *fill(1, True, 0, [10, 20, 30]))
    recorder.add("screen.frame", *fill(2, False, 0, [200, 0, 0]))
    recorder._write_segment()  # what SEGMENT_SECONDS does on a long run of changes: the next opens mid-stream
    recorder.add("screen.frame", *fill(3, False, 6, [0, 0, 200]))
    recorder.close()
    recording = Recording(tmp_path / "recording" / FILE_NAME)
    assert [(seq, key) for _t, seq, key in recording.frame_log] == [(1, True), (2, False), (3, False)]
    canvas = recording.canvas_at(1e9)  # the last frame: decoded from frame 1, across the segments
    assert canvas.seq == 3 and canvas.pixels.shape == (4, 8, 3)
    assert canvas.pixels[0].tolist() == [[200, 0, 0]] * 2 + [[10, 20, 30]] * 4 + [[0, 0, 200]] * 2
    body, data = recording._event(recording._frames[2])
    with pytest.raises(RecordingError, match="before any key frame"):
        ReplayCanvas().apply(body, data)  # alone, the frame has no size: it is never guessed
