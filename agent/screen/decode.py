"""A reference viewer in Python: applies ``screen.frame`` events to an RGB canvas.

What the widget does in the browser, for tests, the benchmark's client, and
replaying recorded sessions.  Raises :class:`FrameError` on a frame that
does not follow docs/screen-protocol.md.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import numpy.typing as npt
import simplejpeg
from PIL import Image


class FrameError(ValueError):
    """A frame whose header and payload disagree, or a codec this viewer does not know."""


def decode_rect(codec: str, data: bytes, width: int, height: int) -> npt.NDArray[np.uint8]:
    """One rectangle's pixels as an ``(h, w, 3)`` RGB array; raises :class:`FrameError`."""
    if codec == "jpeg":
        pixels: npt.NDArray[np.uint8] = simplejpeg.decode_jpeg(data, colorspace="RGB")
    elif codec == "png":
        with Image.open(io.BytesIO(data)) as image:
            pixels = np.asarray(image.convert("RGB"))
    elif codec == "raw":
        pixels = np.frombuffer(data, dtype=np.uint8).reshape(height, width, 4)[:, :, :3]
    else:
        raise FrameError(f"unknown codec {codec!r}")
    if pixels.shape[:2] != (height, width):
        raise FrameError(f"{codec} rectangle of {pixels.shape[1]}x{pixels.shape[0]}, header says {width}x{height}")
    return pixels


class Canvas:
    """The viewer's picture of the stream, updated frame by frame."""

    def __init__(self) -> None:
        self.pixels: npt.NDArray[np.uint8] = np.zeros((0, 0, 3), dtype=np.uint8)
        self.seq = 0
        self.hidden: list[dict[str, Any]] = []

    def apply(self, body: dict[str, Any], payload: bytes) -> list[tuple[dict[str, Any], npt.NDArray[np.uint8]]]:
        """Draw one frame; returns each rectangle with its decoded pixels.

        Raises :class:`FrameError` when the rectangles do not add up to the payload.
        """
        width, height = int(body["width"]), int(body["height"])
        if self.pixels.shape[:2] != (height, width):
            self.pixels = np.zeros((height, width, 3), dtype=np.uint8)
        offset = 0
        drawn = []
        for rect in body["rects"]:
            x, y, w, h, size = (int(rect[k]) for k in ("x", "y", "w", "h", "len"))
            if x < 0 or y < 0 or x + w > width or y + h > height or offset + size > len(payload):
                raise FrameError(f"rectangle {rect} outside the frame or the payload")
            if rect["codec"] == "copy":
                sx, sy = int(rect["sx"]), int(rect["sy"])
                if sx < 0 or sy < 0 or sx + w > width or sy + h > height or size:
                    raise FrameError(f"copy {rect} from outside the frame")
                pixels = self.pixels[sy : sy + h, sx : sx + w].copy()
                self.pixels[y : y + h, x : x + w] = pixels
                drawn.append((rect, pixels))
                continue
            pixels = decode_rect(str(rect["codec"]), payload[offset : offset + size], w, h)
            self.pixels[y : y + h, x : x + w] = pixels
            drawn.append((rect, pixels))
            offset += size
        if offset != len(payload):
            raise FrameError(f"payload of {len(payload)} bytes, rectangles use {offset}")
        self.seq = int(body["seq"])
        self.hidden = list(body.get("hidden", []))
        return drawn
