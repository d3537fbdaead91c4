"""A reference viewer in Python: applies ``screen.frame`` events to an RGB canvas.

What the widget does in the browser, for tests, the benchmark's client, and
replaying recorded sessions.  Reads both frame formats: format 1 (the rectangles
as JSON in the body) and format 2 (``"fmt": 2``: the rectangles' table in binary
ahead of their bytes, :mod:`wire.frame_format`), and format 3 (``"fmt": 3``, leaner: size and
time base from the stream's last key frame, kept in :attr:`Canvas.stream`).  The rectangles are decoded by
:mod:`screenfmt.rects`, the decoder the technician's replay uses too.  Raises
:class:`FrameError` on a frame that does not follow docs/screen-protocol.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from screenfmt.h264 import available as h264_available
from screenfmt.rects import (
    MAX_SIDE,
    FrameError,
    StreamState,
    decode_rect,
    draw_rects,
    frame_size,
    new_video,
    number,
    read_frame,
)

__all__ = ["MAX_SIDE", "Canvas", "FrameError", "StreamState", "decode_rect", "h264_available", "read_frame"]


class Canvas:
    """The viewer's picture of the stream, updated frame by frame."""

    def __init__(self) -> None:
        self.pixels: npt.NDArray[np.uint8] = np.zeros((0, 0, 3), dtype=np.uint8)
        self.seq = 0
        self.hidden: list[dict[str, Any]] = []
        #: format 3's size and time base, from the stream's last key frame
        self.stream = StreamState()
        #: the stream's H.264 decoder (``h264`` rectangles; a client declares it with ``screen.configure
        #: {"h264": true}`` when :func:`h264_available`)
        self.video = new_video()

    def apply(self, body: dict[str, Any], payload: bytes) -> list[tuple[dict[str, Any], npt.NDArray[np.uint8]]]:
        """Draw one frame; returns each rectangle with its decoded pixels.

        Raises :class:`FrameError` when the body is not a frame's (docs/screen-protocol.md),
        a rectangle lies outside the frame, its bytes do not decode to its size, or the
        rectangles do not add up to the payload.
        """
        body, payload = read_frame(body, payload, self.stream)
        width, height = frame_size(body)
        seq = number(body, "seq", "frame")
        hidden = body.get("hidden", [])
        if not isinstance(hidden, list):
            raise FrameError("a frame's hidden rectangles are a list")
        if self.pixels.shape[:2] != (height, width):
            self.pixels = np.zeros((height, width, 3), dtype=np.uint8)
        drawn = draw_rects(self.pixels, body.get("rects"), payload, self.video)
        self.seq = seq
        self.hidden = list(hidden)
        return drawn
