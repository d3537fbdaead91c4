"""The ``h264`` rectangle's encoder: large motion as an H.264 stream (libx264 through PyAV).

A full-screen change each frame (a video, a window dragged, a slideshow) costs a whole JPEG a frame
otherwise; H.264 sends what moved against the picture before.  Each call of
:meth:`H264Encoder.encode` gives one access unit (Annex B, SPS and PPS repeated before each IDR),
since ``tune=zerolatency`` and no B-frames make libx264 return every frame's unit at once.  The
picture is the frame padded to even sides (4:2:0); readers keep its top-left ``w`` × ``h``
(:mod:`screenfmt.h264`).  The caller has already filled the hidden areas: nothing secret reaches
the encoder.

PyAV is optional for the agent: without it (:func:`available` is False) the agent never offers
``h264`` and sends today's codecs.
"""

from __future__ import annotations

import fractions
from typing import Any, Final

import numpy as np

from agent.screen.encode import EncodeError
from agent.screen.tiles import Frame
from screenfmt.h264 import even

try:
    import av
    from av.video.frame import PictureType

    _av: Any = av
    _IDR: Any = PictureType.I
except ImportError:  # pragma: no cover - the agent's extra installs PyAV where its wheels exist
    _av = None
    _IDR = None

#: libx264's options: no lookahead or B-frames (each frame's access unit at once), IDRs only when
#: asked (a receiver needs one), preset ultrafast.  Measured at CRF 23 on a 1080p photo-like full
#: change (2 loaded cores, one thread): ultrafast 15 ms CPU a frame and 180 kB a P-frame, superfast
#: 34 ms and 146 kB, veryfast 45 ms and 69 kB.  The streamer's CPU budget turns encode time into
#: frame rate, and frame rate into latency: in bench/screen_browser.py's full change (two photos alternating
#: ten times a second, into the canvas) the median was 64 ms with ultrafast (0.29x noVNC's), 152 ms
#: with superfast, 210 ms with veryfast (1.32x noVNC's).  The live view comes first: ultrafast.
#: swscale's BGRA->I420 is 2-3 ms of it; more x264 threads lower the wall time a little and cost
#: more CPU (the budget counts this thread only).
PRESET: Final = "ultrafast"
#: CRF 25, not x264's default 23: at the same CRF ultrafast keeps more of a picture than veryfast
#: and pays for it in bytes.  CRF 25 gives the picture veryfast gives at 23 under the same
#: constraints.  bench/h264_quality.py, against the source pixels, 1080p, kB a frame and PSNR-Y:
#: the benchmark's full change (two noisy photos alternating) 97 kB at 28.9 dB with CRF 25, 202 kB
#: at 30.2 dB with 23, veryfast at 23 91 kB at 28.9 dB; a dragged page of text 13.9 kB at 39.8 dB,
#: 14.9 kB at 42.1 dB, and 10.8 kB at 39.7 dB.  Our CPU a frame: 15 ms against 20 ms with 23 and
#: 50 ms with veryfast.  202 kB ten times a second is 16 Mbit/s, more than most home uplinks
#: carry; 97 kB is 8 Mbit/s.  Motion only: the tiles are refreshed losslessly once it stops.  The
#: recording is what the technician saw, so its full change went from 1.89x to about 1.5x the
#: recording benchmark's H.264 (bench/recording_bench.py).
CRF: Final = 25
_X264_PARAMS: Final = ("annexb=1:forced-idr=1:keyint=infinite:min-keyint=1:scenecut=0:repeat-headers=1"
                        # BT.601, limited range, said in the stream: what swscale converts with, both ways
                        ":colormatrix=smpte170m:colorprim=smpte170m:transfer=smpte170m:range=tv")


def available() -> bool:
    """Whether this agent can encode ``h264`` rectangles (PyAV with libx264 is installed)."""
    return _av is not None


class H264Encoder:
    """One H.264 stream of *width* × *height* frames (any sides: the picture is padded to even ones)."""

    def __init__(self, width: int, height: int, *, preset: str = PRESET, crf: float = CRF) -> None:
        """Open libx264 for *width* × *height* (*preset* and *crf*: the live view's unless a benchmark
        compares others).  Raises :class:`EncodeError` without PyAV or when libx264 does not open."""
        if _av is None:
            raise EncodeError("h264 needs PyAV, which is not installed")
        self.width, self.height = width, height
        try:
            context = _av.CodecContext.create("libx264", "w")
            context.width, context.height = even(width), even(height)
            context.pix_fmt = "yuv420p"
            context.time_base = fractions.Fraction(1, 1000)
            context.thread_count = 1  # its CPU counts in the streamer's budget (thread_time of its worker)
            context.options = {"preset": preset, "tune": "zerolatency", "crf": str(crf), "bf": "0",
                               "x264-params": _X264_PARAMS}
            context.open()
        except Exception as err:  # PyAV's FFmpegError and ValueError: no libx264 in this build
            raise EncodeError(f"libx264 does not open for {width}x{height}: {err}") from err
        self._context = context
        self._pts = 0

    def encode(self, frame: Frame, idr: bool) -> bytes:
        """The access unit of *frame* (``(height, width)`` BGRA words); an IDR when *idr*.

        Raises :class:`EncodeError` when the encoder fails or gives other than one unit.
        """
        pixels = frame.view(np.uint8).reshape(self.height, self.width, 4)
        if (self.width, self.height) != (even(self.width), even(self.height)):
            pixels = np.pad(pixels, ((0, even(self.height) - self.height), (0, even(self.width) - self.width),
                                     (0, 0)), mode="edge")
        try:
            picture = _av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="bgra").reformat(
                format="yuv420p")
            picture.pts = self._pts
            if idr:
                picture.pict_type = _IDR
            self._pts += 1
            packets = self._context.encode(picture)
        except Exception as err:  # FFmpeg's own error classes
            raise EncodeError(f"h264 of a {self.width}x{self.height} frame: {err}") from err
        if len(packets) != 1:
            raise EncodeError(f"libx264 gave {len(packets)} access units for one frame")
        return bytes(packets[0])
