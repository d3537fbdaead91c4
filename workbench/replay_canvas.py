"""Draws recorded ``screen.frame`` events as the technician's widget drew them (docs/screen-protocol.md).

The same steps as the widget's front end (``workbench/widget_src/``): rects in order (decoded by
:mod:`screenfmt.rects`, the agent's reference viewer's decoder too: JPEG with libjpeg-turbo's
accurate IDCT and fancy upsampling, as Chromium does), then each ``hidden`` rectangle painted with
the agent's fill.  Raises :class:`wire.errors.RecordingError` for a frame that does not decode (a
corrupt recording).

A frame that is one ``h264`` rectangle over the whole picture (large motion) is decoded at once but
converted to RGB only when its pixels are read or the next frame draws over part of it: a seek
decodes the run from its IDR, and converting each picture (four times the decoding's cost at 1080p)
would be spent on pictures the next one covers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from screenfmt.rects import FrameError, StreamState, draw_rects, frame_size, new_video, number, read_frame
from screenfmt.yuv import i420_to_rgb
from wire.errors import RecordingError

#: The agent's fill for hidden areas (agent/screen/hidden.py FILL_BGRA, #303030), as RGB.
HIDDEN_FILL = (0x30, 0x30, 0x30)

Pixels = npt.NDArray[np.uint8]


class ReplayCanvas:
    """The picture of the stream, frame by frame."""

    def __init__(self) -> None:
        self._pixels: Pixels = np.zeros((0, 0, 3), dtype=np.uint8)
        #: a whole-picture h264 frame not converted yet: its Y, U, V planes and its hidden areas
        self._pending: tuple[tuple[Pixels, Pixels, Pixels], list[tuple[int, int, int, int]]] | None = None
        self.seq = -1
        #: format 3's size and time base: a replay starts at a key frame (segments do), which sets them
        self.stream = StreamState()
        #: the H.264 decoder of ``h264`` rectangles: a replay starts at a key frame, whose h264 rectangle is an IDR
        self.video = new_video()

    @property
    def pixels(self) -> Pixels:
        """The picture, ``(height, width, 3)`` RGB (converting a pending h264 picture first)."""
        if self._pending is not None:
            (y, u, v), hidden = self._pending
            self._pending = None
            height, width = self._pixels.shape[:2]
            self._pixels[:] = i420_to_rgb(y, u, v, width, height)
            self._hide(hidden)
        return self._pixels

    def copy(self) -> ReplayCanvas:
        """The same picture and stream state; its H.264 decoder starts afresh (decoders cannot be copied),
        so it draws ``h264`` rectangles again from the next IDR."""
        other = ReplayCanvas()
        other._pixels, other.seq = self.pixels.copy(), self.seq
        other.stream = StreamState(self.stream.width, self.stream.height, self.stream.base, self.stream.known)
        return other

    def apply(self, body: dict[str, Any], payload: bytes) -> None:
        """Draw one frame of either format (docs/screen-protocol.md); raises :class:`RecordingError`."""
        try:
            body, payload = read_frame(body, payload, self.stream)
            width, height = frame_size(body)
            if self._pixels.shape[:2] != (height, width):
                self._pixels = np.zeros((height, width, 3), dtype=np.uint8)
                self._pending = None
            rects = body.get("rects") or []
            hidden = body.get("hidden") or []
            if not isinstance(hidden, list) or not all(isinstance(area, dict) for area in hidden):
                raise FrameError("a frame's hidden rectangles are a list of objects")
            areas = [_area(area) for area in hidden]
            if _whole_h264(rects, width, height, len(payload)):
                self._pending = (self.video.decode_planes(payload, width, height), areas)
            else:
                draw_rects(self.pixels, rects, payload, self.video)
                self._hide(areas)
            seq = number(body, "seq", "frame") if "seq" in body else self.seq
        except FrameError as err:
            raise RecordingError(f"a recorded frame that does not decode: {err}") from err
        self.seq = seq

    def _hide(self, areas: list[tuple[int, int, int, int]]) -> None:
        for x, y, w, h in areas:
            self._pixels[y:y + h, x:x + w] = HIDDEN_FILL

    def image(self) -> Image.Image:
        return Image.fromarray(self.pixels, "RGB")


def _area(area: dict[str, Any]) -> tuple[int, int, int, int]:
    """A hidden rectangle's (x, y, w, h); raises :class:`FrameError` for a field that is not a count."""
    x, y, w, h = (number(area, k, "hidden rectangle") for k in ("x", "y", "w", "h"))
    return x, y, w, h


def _whole_h264(rects: Any, width: int, height: int, size: int) -> bool:
    """Whether *rects* is one ``h264`` rectangle over the whole *width* × *height* picture, of *size* bytes."""
    if not isinstance(rects, list) or len(rects) != 1 or not isinstance(rects[0], dict):
        return False
    rect = rects[0]
    place = tuple(rect.get(k) for k in ("x", "y", "w", "h", "len"))
    return rect.get("codec") == "h264" and place == (0, 0, width, height, size) and size > 0
