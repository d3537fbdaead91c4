"""What both benchmark viewers (ours and the VNC one) record after each update they draw."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import numpy.typing as npt


def parse_rect(text: str) -> tuple[int, int, int, int]:
    """``"x,y,w,h"`` → a tuple; raises ValueError."""
    x, y, w, h = (int(v) for v in text.split(","))
    return x, y, w, h


class Observer:
    """Observations: (time drawn, bytes received so far, marker mean RGB, region checksum, had pixels)."""

    def __init__(self, marker: tuple[int, int, int, int], region: tuple[int, int, int, int]) -> None:
        self.marker = marker
        self.region = region
        self.rows: list[list[Any]] = []

    def observe(self, when: float, received: int, pixels: npt.NDArray[np.uint8], drew: bool) -> None:
        x, y, w, h = self.marker
        patch = pixels[y : y + h, x : x + w]
        mean = [round(float(v), 1) for v in patch.reshape(-1, 3).mean(axis=0)] if patch.size else [0.0, 0.0, 0.0]
        rx, ry, rw, rh = self.region
        checksum = zlib.crc32(np.ascontiguousarray(pixels[ry : ry + rh, rx : rx + rw]).tobytes())
        self.rows.append([when, received, mean, checksum, drew])

    def result(self) -> dict[str, Any]:
        return {"observations": self.rows}
