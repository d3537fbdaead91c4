"""A generated screen for load tests only (``workbench-agent --synthetic-screen FPS``): no X server.

The picture is a pure function of the clock: a bar that moves one step ``fps`` times a second
over a fixed background, so a streamer polling it finds a change ``fps`` times a second and the
change is small (cheap to encode, as a load test of the relays wants).  Chosen by
:func:`agent.screen.capture.open_capturer` when the agent's display is :func:`synthetic_display`;
the real capture path (mss) is not touched.
"""

from __future__ import annotations

import time

import numpy as np

from agent.screen.capture import Capturer, Monitor
from agent.screen.hidden import Rect
from agent.screen.tiles import Frame

#: The agent's display name that stands for this screen: ``synthetic:<fps>``.
PREFIX = "synthetic:"
WIDTH, HEIGHT = 320, 200
BAR = 16


def synthetic_display(fps: int) -> str:
    """The display name an agent is given for a generated screen changing *fps* times a second."""
    return f"{PREFIX}{fps}"


def synthetic_fps(display: str | None) -> int | None:
    """The frames a second of a :func:`synthetic_display` name, or None for a real display."""
    if display is None or not display.startswith(PREFIX):
        return None
    return max(1, int(display[len(PREFIX):] or 1))


class SyntheticCapturer(Capturer):
    """:class:`~agent.screen.capture.Capturer`'s interface over a generated picture (one monitor)."""

    def __init__(self, fps: int) -> None:  # no mss: nothing to open
        self.fps = fps

    def close(self) -> None:
        pass

    def virtual_screen(self) -> Rect:
        return Rect(0, 0, WIDTH, HEIGHT)

    def monitors(self) -> list[Monitor]:
        return [Monitor(0, self.virtual_screen(), True)]

    def grab(self, area: Rect) -> Frame:
        step = int(time.monotonic() * self.fps)
        ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.uint32)
        picture = 0xFF000000 | (xs * 0x10000 // WIDTH * 0x100) | (ys * 0x100 // HEIGHT)
        left = (step * BAR) % WIDTH
        picture[:, left:left + BAR] = 0xFFFFFFFF
        frame: Frame = np.ascontiguousarray(picture[area.y:area.y + area.h, area.x:area.x + area.w])
        return frame
