"""A ``screen.frame``'s rectangles drawn into an RGB picture (docs/screen-protocol.md).

:func:`read_frame` turns a frame of either format into format 1's body (format 2's binary table
read by :mod:`wire.frame_format`); :func:`frame_size` checks its size; :func:`draw_rects` draws its
rectangles in order (``fill``, ``copy`` from the picture as it is before that rectangle, and
``jpeg``, ``png``, ``raw``, ``pal`` decoded by :func:`decode_rect`).  Everything malformed raises
:class:`FrameError`, before any pixel of a wrong size is decoded.

JPEG is decoded by libjpeg-turbo with its accurate IDCT and fancy upsampling, as Chromium draws the
technician's view: through simplejpeg where it is installed (the agent's extra: about twice
Pillow's speed on a 1080p frame), else through Pillow.  Both give the same pixels
(tests/test_screenfmt.py checks), so a recording replays exactly what the technician saw.
"""

from __future__ import annotations

import io
import zlib
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from PIL import Image

from screenfmt.h264 import H264Stream
from wire.frame_format import FORMAT, FORMAT_3, FrameFormatError, FrameNeedsKey, StreamState, unpack, unpack3

__all__ = ["FrameError", "FrameNeedsKey", "StreamState", "new_video", "read_frame"]

try:  # the agent's extra installs it; the technician's does not (Pillow decodes the same pixels there)
    import simplejpeg

    _simplejpeg: Any = simplejpeg
except ImportError:
    _simplejpeg = None

#: Largest side of a stream, in pixels (X11's own limit); a header beyond it is refused before any allocation.
MAX_SIDE: Final = 32767
#: Largest picture, in pixels: three 8K monitors side by side (about 100 M pixels, 300 MB of RGB).  A side
#: alone does not bound it (32767² pixels would be 3 GB, asked for by a 90-byte header).
MAX_PIXELS: Final = 3 * 7680 * 4320
Pixels = npt.NDArray[np.uint8]


class FrameError(ValueError):
    """A frame whose header and payload disagree, or a codec this viewer does not know.

    ``code`` is ``bad_frame``, or ``frame_needs_key`` for a format-3 frame read before its
    stream's first key frame (a viewer skips it: the key frame follows).
    """

    def __init__(self, message: str, code: str = "bad_frame") -> None:
        super().__init__(message)
        self.code = code


def new_video() -> H264Stream:
    """The decoder a stream's ``h264`` rectangles need (:mod:`screenfmt.h264`), raising :class:`FrameError`."""
    return H264Stream(FrameError)


def decode_rect(codec: str, data: bytes, width: int, height: int) -> Pixels:
    """One rectangle's pixels as an ``(h, w, 3)`` RGB array; raises :class:`FrameError`.

    An image's own header is read first, so pixels of a size other than the
    rectangle's are never decoded.
    """
    if codec == "jpeg":
        pixels = _jpeg(data, width, height)
    elif codec == "png":
        pixels = _png(data, width, height)
    elif codec == "pal":
        pixels = _palette(data, width, height)
    elif codec == "raw":
        if len(data) != width * height * 4:
            raise FrameError(f"raw rectangle of {len(data)} bytes, header says {width}x{height} (BGRA)")
        pixels = np.frombuffer(data, dtype=np.uint8).reshape(height, width, 4)[:, :, 2::-1]  # B,G,R,X to R,G,B
    else:
        raise FrameError(f"unknown codec {codec!r}")
    if pixels.shape[:2] != (height, width):
        raise FrameError(f"{codec} rectangle of {pixels.shape[1]}x{pixels.shape[0]}, header says {width}x{height}")
    return pixels


def _jpeg(data: bytes, width: int, height: int) -> Pixels:
    if _simplejpeg is None:
        return _pillow("JPEG", data, width, height)
    try:
        size = _simplejpeg.decode_jpeg_header(data)[:2]
        if size != (height, width):
            raise FrameError(f"jpeg rectangle of {size[1]}x{size[0]}, header says {width}x{height}")
        pixels: Pixels = _simplejpeg.decode_jpeg(data, colorspace="RGB")
    except FrameError:
        raise
    except Exception as err:  # the codec's own errors, whatever their class: the bytes are not a JPEG
        raise FrameError(f"jpeg rectangle that does not decode: {err}") from err
    return pixels


def _png(data: bytes, width: int, height: int) -> Pixels:
    return _pillow("PNG", data, width, height)


def _pillow(kind: str, data: bytes, width: int, height: int) -> Pixels:
    """A PNG or JPEG through Pillow: the header is read (and the size checked) before the pixels."""
    try:
        with Image.open(io.BytesIO(data), formats=[kind]) as image:
            if image.size != (width, height):
                raise FrameError(f"{kind.lower()} rectangle of {image.size[0]}x{image.size[1]}, "
                                 f"header says {width}x{height}")
            pixels = np.asarray(image.convert("RGB"))
    except FrameError:
        raise
    except Exception as err:  # Pillow raises OSError, ValueError, SyntaxError, EOFError... for bad data
        raise FrameError(f"{kind.lower()} rectangle that does not decode: {err}") from err
    return pixels


def _palette(data: bytes, width: int, height: int) -> Pixels:
    """A ``pal`` rectangle: u8 colours-1, the colours' r,g,b, u8 mode (0 packed, 1 deflated), the indices."""
    if not data:
        raise FrameError("pal rectangle without a palette")
    count = data[0] + 1
    if count > 16 or len(data) < 2 + 3 * count:
        raise FrameError(f"pal rectangle of {count} colours in {len(data)} bytes (at most 16 colours)")
    palette = np.frombuffer(data, dtype=np.uint8, count=3 * count, offset=1).reshape(count, 3)
    mode, body = data[1 + 3 * count], data[2 + 3 * count :]
    bits = 1 if count <= 2 else 2 if count <= 4 else 4
    row_bytes = -(-width * bits // 8)
    if mode == 1:
        inflater = zlib.decompressobj(-15)
        try:
            body = inflater.decompress(body, row_bytes * height + 1)
        except zlib.error as err:
            raise FrameError(f"pal rectangle whose indices do not inflate: {err}") from err
        if not inflater.eof or inflater.unused_data:
            raise FrameError("pal rectangle whose deflated indices do not end where its bytes do")
    elif mode != 0:
        raise FrameError(f"pal rectangle of mode {mode}")
    if len(body) != row_bytes * height:
        raise FrameError(f"pal rectangle of {len(body)} bytes of indices, {width}x{height} needs {row_bytes * height}")
    packed = np.frombuffer(body, dtype=np.uint8).reshape(height, row_bytes)
    indices = np.unpackbits(packed, axis=1).reshape(height, -1, bits)
    weights = (1 << np.arange(bits - 1, -1, -1)).astype(np.uint8)
    values = (indices * weights).sum(axis=2, dtype=np.uint8)[:, :width]
    if values.max(initial=0) >= count:
        raise FrameError(f"pal rectangle with an index past its {count} colours")
    pixels: Pixels = palette[values]
    return pixels


def number(where: dict[str, Any], key: str, what: str) -> int:
    """*where*[*key*] as a whole number from 0 to 2³¹; raises :class:`FrameError` naming *what* it belongs to."""
    value = where.get(key)
    if type(value) is not int or not 0 <= value <= 2**31:
        raise FrameError(f"{what} without a whole number {key!r} (found {type(value).__name__})")
    return value


def read_frame(body: Any, payload: bytes, state: StreamState | None = None) -> tuple[dict[str, Any], bytes]:
    """A frame of any format as format 1's body (``rects`` in JSON) and its rectangles' bytes.

    *state* is the stream's, kept across its frames: a format-3 frame takes its size and time
    base from the last key frame (without *state*, only a key frame reads).  Raises
    :class:`FrameError` (its ``code`` ``bad_frame``) when *body* is not an object, names a format
    other than 1 (no ``fmt``), 2 or 3, or a binary header is cut short or names an unknown codec;
    ``frame_needs_key`` when a format-3 frame that is not a key frame comes before any key frame.
    """
    if not isinstance(body, dict):
        raise FrameError("a frame's body is a JSON object")
    if "fmt" not in body:
        return body, payload
    fmt = body["fmt"]
    if type(fmt) is not int or fmt not in (FORMAT, FORMAT_3):
        raise FrameError(f"frame format {fmt!r}; this viewer reads 1, {FORMAT} and {FORMAT_3}")
    try:
        if fmt == FORMAT_3:
            return unpack3(body, payload, state if state is not None else StreamState())
        return unpack(body, payload)
    except FrameFormatError as err:
        raise FrameError(str(err), err.code) from err


def frame_size(body: dict[str, Any]) -> tuple[int, int]:
    """A format-1 body's (width, height), checked; raises :class:`FrameError`."""
    width, height = number(body, "width", "frame"), number(body, "height", "frame")
    if width > MAX_SIDE or height > MAX_SIDE:
        raise FrameError(f"frame of {width}x{height}, over {MAX_SIDE} pixels a side")
    if width * height > MAX_PIXELS:
        raise FrameError(f"frame of {width}x{height}, over {MAX_PIXELS} pixels in all")
    return width, height


def draw_rects(picture: Pixels, rects: Any, payload: bytes,
               video: H264Stream | None = None) -> list[tuple[dict[str, Any], Pixels]]:
    """Draw a format-1 body's *rects* into *picture* (``(h, w, 3)``), in order; each rectangle with its pixels.

    *video* is the stream's H.264 decoder (:func:`new_video`), kept across its frames: ``h264``
    rectangles are steps of one stream.  Raises :class:`FrameError` when *rects* is not a list of
    objects, a rectangle lies outside the picture, its bytes do not decode to its size, the
    rectangles do not add up to *payload* (the rectangles before the bad one are drawn), or an
    ``h264`` rectangle comes without *video* or before its stream's IDR (code ``frame_needs_key``).
    """
    if not isinstance(rects, list) or not all(isinstance(rect, dict) for rect in rects):
        raise FrameError("a frame's rects are a list of objects")
    height, width = picture.shape[:2]
    offset = 0
    drawn = []
    for rect in rects:
        x, y, w, h, size = (number(rect, k, "rectangle") for k in ("x", "y", "w", "h", "len"))
        if x + w > width or y + h > height or offset + size > len(payload):
            raise FrameError(f"rectangle {rect} outside the frame or the payload")
        codec = rect.get("codec")
        if codec == "fill":
            rgb = rect.get("rgb")
            if size or not (isinstance(rgb, list) and len(rgb) == 3
                            and all(type(c) is int and 0 <= c <= 255 for c in rgb)):
                raise FrameError(f"fill {rect} without a colour [r, g, b]")
            pixels = np.empty((h, w, 3), dtype=np.uint8)
            pixels[:] = rgb
        elif codec == "copy":
            sx, sy = number(rect, "sx", "copy rectangle"), number(rect, "sy", "copy rectangle")
            if sx + w > width or sy + h > height or size:
                raise FrameError(f"copy {rect} from outside the frame")
            pixels = picture[sy : sy + h, sx : sx + w].copy()
        elif codec == "h264":
            if video is None:
                raise FrameError("an h264 rectangle, and this reader keeps no H.264 decoder")
            if not w or not h:
                raise FrameError(f"an empty h264 rectangle {rect}")
            pixels = video.decode(payload[offset : offset + size], w, h)
            offset += size
        else:
            pixels = decode_rect(str(codec), payload[offset : offset + size], w, h)
            offset += size
        picture[y : y + h, x : x + w] = pixels
        drawn.append((rect, pixels))
    if offset != len(payload):
        raise FrameError(f"payload of {len(payload)} bytes, rectangles use {offset}")
    return drawn
