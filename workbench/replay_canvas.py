"""Draws recorded ``screen.frame`` events as the technician's widget drew them (docs/screen-protocol.md).

The same steps as the widget's front end (``workbench/widget_src/``): rects in order (decoded by
:mod:`screenfmt.rects`, the agent's reference viewer's decoder too: JPEG with libjpeg-turbo's
accurate IDCT and fancy upsampling, as Chromium does), then each ``hidden`` rectangle painted with
the agent's fill.  Raises :class:`wire.errors.RecordingError` for a frame that does not decode (a
corrupt recording).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from screenfmt.rects import FrameError, StreamState, draw_rects, frame_size, new_video, number, read_frame
from wire.errors import RecordingError

#: The agent's fill for hidden areas (agent/screen/hidden.py FILL_BGRA, #303030), as RGB.
HIDDEN_FILL = (0x30, 0x30, 0x30)


class ReplayCanvas:
    """The picture of the stream, frame by frame."""

    def __init__(self) -> None:
        self.pixels: npt.NDArray[np.uint8] = np.zeros((0, 0, 3), dtype=np.uint8)
        self.seq = -1
        #: format 3's size and time base: a replay starts at a key frame (segments do), which sets them
        self.stream = StreamState()
        #: the H.264 decoder of ``h264`` rectangles: a replay starts at a key frame, whose h264 rectangle is an IDR
        self.video = new_video()

    def copy(self) -> ReplayCanvas:
        """The same picture and stream state; its H.264 decoder starts afresh (decoders cannot be copied),
        so it draws ``h264`` rectangles again from the next IDR."""
        other = ReplayCanvas()
        other.pixels, other.seq = self.pixels.copy(), self.seq
        other.stream = StreamState(self.stream.width, self.stream.height, self.stream.base, self.stream.known)
        return other

    def apply(self, body: dict[str, Any], payload: bytes) -> None:
        """Draw one frame of either format (docs/screen-protocol.md); raises :class:`RecordingError`."""
        try:
            body, payload = read_frame(body, payload, self.stream)
            width, height = frame_size(body)
            if self.pixels.shape[:2] != (height, width):
                self.pixels = np.zeros((height, width, 3), dtype=np.uint8)
            draw_rects(self.pixels, body.get("rects") or [], payload, self.video)
            hidden = body.get("hidden") or []
            if not isinstance(hidden, list) or not all(isinstance(area, dict) for area in hidden):
                raise FrameError("a frame's hidden rectangles are a list of objects")
            for area in hidden:
                x, y, w, h = (number(area, k, "hidden rectangle") for k in ("x", "y", "w", "h"))
                self.pixels[y:y + h, x:x + w] = HIDDEN_FILL
            seq = number(body, "seq", "frame") if "seq" in body else self.seq
        except FrameError as err:
            raise RecordingError(f"a recorded frame that does not decode: {err}") from err
        self.seq = seq

    def image(self) -> Image.Image:
        return Image.fromarray(self.pixels, "RGB")
