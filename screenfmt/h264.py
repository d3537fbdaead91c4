"""``h264`` rectangles: one H.264 access unit each, decoded in order by a decoder kept per stream.

An ``h264`` rectangle is not a picture on its own: it is a step of an H.264 stream (Annex B byte
stream without B-frames, so every access unit gives its picture at once), whose earlier
pictures the decoder keeps.  The agent starts every run of them with an IDR access unit (NAL type
5, with its SPS and PPS), so a reader that meets one resets its decoder there; a non-IDR unit
before any IDR is refused with ``frame_needs_key``.  The encoded picture is the rectangle padded to
even sides (4:2:0); its top-left ``w`` × ``h`` pixels are the rectangle.

Decoded by FFmpeg's H.264 decoder through PyAV (one thread, so each unit's picture comes out of
the call that fed it; decoding is bit-exact), then converted to RGB by :func:`screenfmt.yuv.i420_to_rgb`,
the integer formula the widget uses too: the agent's reference viewer, the replay of recordings
and the technician's canvas hold the same pixels.  Raises
:class:`screenfmt.rects.FrameError` (via *error*) on anything that does not decode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from screenfmt.yuv import i420_to_rgb

try:  # the technician's extra installs PyAV (recordings' export); without it h264 is not declared
    import av

    _av: Any = av
except ImportError:  # pragma: no cover - every extra that decodes frames installs it
    _av = None

Pixels = npt.NDArray[np.uint8]
#: NAL unit type of an IDR slice (ITU-T H.264, table 7-1).
NAL_IDR: Final = 5


def available() -> bool:
    """Whether this reader can decode ``h264`` rectangles (PyAV is installed)."""
    return _av is not None


def even(side: int) -> int:
    """*side* rounded up to an even number: the encoded picture's side (4:2:0 halves it)."""
    return side + (side & 1)


def nal_types(data: bytes) -> list[int]:
    """The NAL unit types of an Annex B access unit, in order; [] when it does not start with a start code."""
    if not (data.startswith(b"\0\0\1") or data.startswith(b"\0\0\0\1")):
        return []
    types = []
    start = data.find(b"\0\0\1")
    while start >= 0 and start + 3 < len(data):
        types.append(data[start + 3] & 0x1F)
        start = data.find(b"\0\0\1", start + 3)
    return types


def is_idr(data: bytes) -> bool:
    """Whether the access unit *data* holds an IDR slice (a picture that needs no earlier one)."""
    return NAL_IDR in nal_types(data)


class H264Stream:
    """The H.264 decoder of one stream's ``h264`` rectangles, reset at each IDR access unit."""

    def __init__(self, error: Callable[[str, str], Exception]) -> None:
        #: builds the exception to raise: (message, code)
        self._error = error
        self._decoder: Any = None

    def decode(self, data: bytes, width: int, height: int) -> Pixels:
        """The ``(height, width, 3)`` RGB pixels of the access unit *data*; raises the stream's error."""
        return i420_to_rgb(*self.decode_planes(data, width, height), width, height)

    def decode_planes(self, data: bytes, width: int, height: int) -> tuple[Pixels, Pixels, Pixels]:
        """The Y, U and V planes of the access unit *data*'s picture (views of the decoder's frame, which
        they keep alive; :func:`screenfmt.yuv.i420_to_rgb` makes its pixels), for a reader that may
        skip converting a picture the next one covers; raises the stream's error."""
        if _av is None:
            raise self._error("an h264 rectangle, and this reader has no PyAV to decode it", "bad_frame")
        types = nal_types(data)
        if not types:
            raise self._error("an h264 rectangle that is not an Annex B access unit", "bad_frame")
        if NAL_IDR in types:
            decoder = _av.CodecContext.create("h264", "r")
            decoder.thread_count = 1  # frame threads would hold pictures back
            self._decoder = decoder
        elif self._decoder is None:
            raise self._error("an h264 rectangle that needs earlier pictures, before any IDR of its stream",
                              "frame_needs_key")
        try:
            pictures = self._decoder.decode(_av.Packet(data))
        except Exception as err:  # FFmpeg's errors (InvalidDataError, ...) and PyAV's ValueError alike
            self._decoder = None
            raise self._error(f"an h264 rectangle that does not decode: {err}", "bad_frame") from err
        if len(pictures) != 1:
            self._decoder = None
            raise self._error(f"an h264 rectangle that gave {len(pictures)} pictures, not one", "bad_frame")
        picture = pictures[0]
        if (picture.width, picture.height) != (even(width), even(height)):
            self._decoder = None
            raise self._error(f"an h264 picture of {picture.width}x{picture.height} for a {width}x{height} "
                              "rectangle", "bad_frame")
        if picture.format.name != "yuv420p":  # 4:2:0, 8 bits, limited range: what the agent encodes
            self._decoder = None
            raise self._error(f"an h264 picture in {picture.format.name}, not yuv420p", "bad_frame")
        y, u, v = (_plane(plane) for plane in picture.planes[:3])
        return y, u, v


def _plane(plane: Any) -> Pixels:
    """One of a decoded picture's planes as a ``(rows, width)`` view of its bytes (no copy)."""
    rows: Pixels = np.frombuffer(plane, dtype=np.uint8).reshape(-1, plane.line_size)
    return rows[:plane.height, :plane.width]
