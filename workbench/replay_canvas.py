"""Draws recorded ``screen.frame`` events as the technician's widget drew them (docs/screen-protocol.md).

The same steps as the widget's front end (``workbench/widget_src/``): rects in order (``jpeg``,
``png``, ``raw``, ``copy`` from the picture as it was before that rect), then each ``hidden``
rectangle painted with the agent's fill.  Pillow decodes JPEG with libjpeg-turbo's default
(accurate) IDCT and fancy upsampling, as Chromium does.  Raises :class:`wire.errors.RecordingError`
for a frame that does not decode (a corrupt recording).
"""

from __future__ import annotations

import io
import zlib
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from wire.errors import RecordingError
from wire.frame_format import FrameFormatError
from wire.frame_format import unpack as unpack_format_2

#: The agent's fill for hidden areas (agent/screen/hidden.py FILL_BGRA, #303030), as RGB.
HIDDEN_FILL = (0x30, 0x30, 0x30)
MAX_SIDE = 32767


def _int(where: dict[str, Any], key: str) -> int:
    value = where.get(key)
    if type(value) is not int or not 0 <= value <= 2**31:
        raise RecordingError(f"a recorded frame without a whole number {key!r}")
    return value


def decode_rect(codec: str, data: bytes, width: int, height: int) -> npt.NDArray[np.uint8]:
    """One rectangle's pixels, ``(h, w, 3)`` RGB; raises :class:`RecordingError`."""
    if codec in ("jpeg", "png"):
        try:
            with Image.open(io.BytesIO(data), formats=["JPEG" if codec == "jpeg" else "PNG"]) as image:
                if image.size != (width, height):
                    raise RecordingError(f"a recorded {codec} rectangle of {image.size}, its header says "
                                         f"{width}x{height}")
                pixels = np.asarray(image.convert("RGB"))
        except RecordingError:
            raise
        except Exception as err:  # Pillow's many error classes for bad bytes
            raise RecordingError(f"a recorded {codec} rectangle does not decode: {err}") from err
        return pixels
    if codec == "raw":
        if len(data) != width * height * 4:
            raise RecordingError("a recorded raw rectangle of the wrong size")
        bgrx = np.frombuffer(data, dtype=np.uint8).reshape(height, width, 4)
        return np.ascontiguousarray(bgrx[:, :, 2::-1])
    if codec == "pal":
        return _palette(data, width, height)
    raise RecordingError(f"a recorded rectangle in an unknown codec {codec!r}")


def _palette(data: bytes, width: int, height: int) -> npt.NDArray[np.uint8]:
    """A ``pal`` rectangle (docs/screen-protocol.md): u8 colours-1, the colours' r,g,b, u8 mode
    (0 packed, 1 deflated), the indices at 1, 2 or 4 bits, rows padded to a byte."""
    count = data[0] + 1 if data else 0
    if not 1 <= count <= 16 or len(data) < 2 + 3 * count:
        raise RecordingError("a recorded pal rectangle without a whole palette")
    palette = np.frombuffer(data, dtype=np.uint8, count=3 * count, offset=1).reshape(count, 3)
    mode, indices = data[1 + 3 * count], data[2 + 3 * count:]
    bits = 1 if count <= 2 else 2 if count <= 4 else 4
    row_bytes = -(-width * bits // 8)
    if mode == 1:
        try:
            indices = zlib.decompress(indices, -15)
        except zlib.error as err:
            raise RecordingError(f"a recorded pal rectangle whose indices do not inflate: {err}") from err
    elif mode != 0:
        raise RecordingError(f"a recorded pal rectangle of mode {mode}")
    if len(indices) != row_bytes * height:
        raise RecordingError("a recorded pal rectangle of the wrong size")
    packed = np.frombuffer(indices, dtype=np.uint8).reshape(height, row_bytes)
    unpacked = np.unpackbits(packed, axis=1).reshape(height, -1, bits)
    weights = (1 << np.arange(bits - 1, -1, -1)).astype(np.uint8)
    values = (unpacked * weights).sum(axis=2, dtype=np.uint8)[:, :width]
    if values.max(initial=0) >= count:
        raise RecordingError("a recorded pal rectangle with an index past its colours")
    pixels: npt.NDArray[np.uint8] = palette[values]
    return pixels


class ReplayCanvas:
    """The picture of the stream, frame by frame."""

    def __init__(self) -> None:
        self.pixels: npt.NDArray[np.uint8] = np.zeros((0, 0, 3), dtype=np.uint8)
        self.seq = -1

    def copy(self) -> ReplayCanvas:
        other = ReplayCanvas()
        other.pixels, other.seq = self.pixels.copy(), self.seq
        return other

    def apply(self, body: dict[str, Any], payload: bytes) -> None:
        """Draw one frame of either format (docs/screen-protocol.md); raises :class:`RecordingError`."""
        if "fmt" in body:
            try:
                body, payload = unpack_format_2(body, payload)
            except FrameFormatError as err:
                raise RecordingError(f"a recorded frame: {err}") from err
        width, height = _int(body, "width"), _int(body, "height")
        if width > MAX_SIDE or height > MAX_SIDE:
            raise RecordingError(f"a recorded frame of {width}x{height}")
        if self.pixels.shape[:2] != (height, width):
            self.pixels = np.zeros((height, width, 3), dtype=np.uint8)
        offset = 0
        for rect in body.get("rects") or []:
            x, y, w, h, size = (_int(rect, k) for k in ("x", "y", "w", "h", "len"))
            if x + w > width or y + h > height or offset + size > len(payload):
                raise RecordingError(f"a recorded rectangle {rect} outside its frame or payload")
            if rect.get("codec") == "fill":
                rgb = rect.get("rgb")
                if not (isinstance(rgb, list) and len(rgb) == 3 and all(isinstance(c, int) and 0 <= c <= 255
                                                                          for c in rgb)):
                    raise RecordingError(f"a recorded fill {rect} without a colour")
                self.pixels[y:y + h, x:x + w] = rgb
                continue
            if rect.get("codec") == "copy":
                sx, sy = _int(rect, "sx"), _int(rect, "sy")
                if sx + w > width or sy + h > height:
                    raise RecordingError(f"a recorded copy {rect} from outside the frame")
                self.pixels[y:y + h, x:x + w] = self.pixels[sy:sy + h, sx:sx + w].copy()
                continue
            self.pixels[y:y + h, x:x + w] = decode_rect(str(rect.get("codec")), payload[offset:offset + size], w, h)
            offset += size
        for area in body.get("hidden") or []:
            x, y, w, h = (_int(area, k) for k in ("x", "y", "w", "h"))
            self.pixels[y:y + h, x:x + w] = HIDDEN_FILL
        self.seq = int(body.get("seq", self.seq))

    def image(self) -> Image.Image:
        return Image.fromarray(self.pixels, "RGB")
