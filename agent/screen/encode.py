"""Encoders for rectangles of a BGRA frame: JPEG (simplejpeg) for motion, PNG (Pillow) when exact.

Both read the captured pixels directly (no BGRA→RGB pass in numpy: the
codecs take BGRX as input).  Both raise :class:`EncodeError` when the codec
fails, which only happens on a broken install or an impossible size.
"""

from __future__ import annotations

import io
import zlib
from typing import Final

import numpy as np
import numpy.typing as npt
import simplejpeg
from PIL import Image

from agent.screen.hidden import Rect
from agent.screen.tiles import Frame

#: zlib effort for PNG: 1 is about 1.5× faster than 6 for about twice the bytes on text.
PNG_LEVEL_LIVE: Final = 1
PNG_LEVEL_STILL: Final = 6


class EncodeError(RuntimeError):
    """A codec failed on a rectangle."""


def _bgrx(frame: Frame, rect: Rect) -> npt.NDArray[np.uint8]:
    region = frame[rect.y : rect.bottom, rect.x : rect.right]
    return region.view(np.uint8).reshape(rect.h, rect.w, 4)


def encode_jpeg(frame: Frame, rect: Rect, quality: int) -> bytes:
    """JPEG of *rect* of *frame* at *quality* (1–100), 4:2:0; raises :class:`EncodeError`."""
    try:
        data: bytes = simplejpeg.encode_jpeg(_bgrx(frame, rect), quality=quality, colorspace="BGRX",
                                             colorsubsampling="420", fastdct=True)
    except (ValueError, RuntimeError) as err:
        raise EncodeError(f"JPEG of {rect}: {err}") from err
    return data


def encode_png(frame: Frame, rect: Rect, level: int = PNG_LEVEL_LIVE) -> bytes:
    """Lossless PNG of *rect* of *frame*; raises :class:`EncodeError`.

    Text and flat UI have few colours: with at most 256, the PNG is a palette
    image (1, 2, 4 or 8 bits a pixel), two to four times smaller than RGB and
    no slower; otherwise it is RGB at *level*.
    """
    pixels = np.ascontiguousarray(_bgrx(frame, rect))
    try:
        image = Image.frombuffer("RGB", (rect.w, rect.h), pixels, "raw", "BGRX", 0, 1)
        colours = image.getcolors(256)
        if colours is not None:
            palette = Image.new("P", (1, 1))
            palette.putpalette([channel for _count, rgb in colours for channel in rgb])  # type: ignore[union-attr]
            # Every colour is in the palette, so the nearest one is the colour itself: exact.
            image = image.quantize(colors=len(colours), palette=palette, dither=Image.Dither.NONE)
            level = PNG_LEVEL_STILL
        out = io.BytesIO()
        image.save(out, format="PNG", compress_level=level)
    except (ValueError, OSError, zlib.error) as err:
        raise EncodeError(f"PNG of {rect}: {err}") from err
    return out.getvalue()


def png_image(frame: Frame, level: int = PNG_LEVEL_STILL) -> bytes:
    """A whole frame as PNG, for screenshots; raises :class:`EncodeError`."""
    height, width = frame.shape
    return encode_png(frame, Rect(0, 0, width, height), level)


#: Most colours a ``pal`` rectangle holds (4 bits an index at most).
PALETTE_COLOURS: Final = 16
_BITS: Final = ((2, 1), (4, 2), (16, 4))


def encode_palette(frame: Frame, rect: Rect) -> bytes | None:
    """*rect* of *frame* as a ``pal`` rectangle (docs/screen-protocol.md), or None above 16 colours.

    For a glyph typed into a terminal: its few colours and their packed indices, about
    30 bytes where a PNG takes about 110 (PNG's own chunks are 70 of them).  The indices
    are deflated only when that makes them smaller (mode 1), else sent as they are (mode 0).
    """
    region = np.ascontiguousarray(frame[rect.y : rect.bottom, rect.x : rect.right]) & np.uint32(0x00FFFFFF)
    colours, indices = np.unique(region, return_inverse=True)
    if len(colours) > PALETTE_COLOURS:
        return None
    bits = next(b for limit, b in _BITS if len(colours) <= limit)
    per_byte = 8 // bits
    index_rows = indices.reshape(rect.h, rect.w).astype(np.uint8)
    padded = np.zeros((rect.h, -(-rect.w // per_byte) * per_byte), dtype=np.uint8)
    padded[:, : rect.w] = index_rows
    groups = padded.reshape(rect.h, -1, per_byte)
    shifts = np.arange(8 - bits, -1, -bits, dtype=np.uint8)  # the first pixel in the high bits, as PNG
    packed = np.bitwise_or.reduce(groups << shifts, axis=2).astype(np.uint8).tobytes()
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = deflater.compress(packed) + deflater.flush()
    mode, body = (1, deflated) if len(deflated) < len(packed) else (0, packed)
    rgb = np.stack(((colours >> 16) & 0xFF, (colours >> 8) & 0xFF, colours & 0xFF), axis=1).astype(np.uint8)
    return bytes((len(colours) - 1,)) + rgb.tobytes() + bytes((mode,)) + body
