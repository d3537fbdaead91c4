"""Screen capture with mss (XShm on X11, GDI on Windows, CoreGraphics on macOS).

Availability: wherever mss runs.  A :class:`Capturer` belongs to the thread
that made it (mss keeps per-thread native handles).  Errors from mss are
translated here, once, into :class:`CaptureError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mss
import mss.exception
import numpy as np

from agent.screen.hidden import Rect
from agent.screen.tiles import Frame


class CaptureError(RuntimeError):
    """The screen could not be read (no display, display gone, size changed)."""


@dataclass(frozen=True)
class Monitor:
    """One monitor: its 0-based index and its rectangle on the virtual screen."""

    index: int
    rect: Rect
    primary: bool

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "x": self.rect.x, "y": self.rect.y, "width": self.rect.w,
                "height": self.rect.h, "primary": self.primary}


class Capturer:
    """Reads screen pixels into caller-owned buffers; raises :class:`CaptureError`."""

    def __init__(self, display: str | None = None) -> None:
        factory = getattr(mss, "MSS", None) or mss.mss  # mss 10 renamed the factory
        try:
            self._mss: Any = factory(display=display) if display else factory()
        except mss.exception.ScreenShotError as err:
            raise CaptureError(f"cannot open the screen {display or ''}: {err}") from err

    def close(self) -> None:
        self._mss.close()

    def virtual_screen(self) -> Rect:
        """The rectangle covering every monitor."""
        whole = self._mss.monitors[0]
        return Rect(whole["left"], whole["top"], whole["width"], whole["height"])

    def monitors(self) -> list[Monitor]:
        """The physical monitors, 0-based; the first is primary when the OS names none."""
        found = self._mss.monitors[1:]
        flagged = any(m.get("is_primary") for m in found)
        return [Monitor(i, Rect(m["left"], m["top"], m["width"], m["height"]),
                        bool(m.get("is_primary")) if flagged else i == 0)
                for i, m in enumerate(found)]

    def area(self, monitor: str | int) -> Rect:
        """The rectangle streamed for *monitor* ("all" or an index); raises IndexError."""
        if monitor == "all":
            return self.virtual_screen()
        monitors = self.monitors()
        if not isinstance(monitor, int) or not 0 <= monitor < len(monitors):
            raise IndexError(f"no monitor {monitor!r}")
        return monitors[monitor].rect

    def grab(self, area: Rect) -> Frame:
        """The pixels of *area* (virtual-screen coordinates) as a writable ``(h, w)`` uint32 BGRA array.

        The array wraps the buffer mss fills anyway (no second copy); it is
        the caller's to keep and to overwrite.
        """
        try:
            shot = self._mss.grab({"left": area.x, "top": area.y, "width": area.w, "height": area.h})
        except mss.exception.ScreenShotError as err:
            raise CaptureError(f"cannot read the screen: {err}") from err
        raw = np.frombuffer(shot.raw, dtype=np.uint32)  # shot.raw is a bytearray: writable
        if raw.size != area.w * area.h or not raw.flags.writeable:
            raise CaptureError(f"captured {raw.size} pixels for a {area.w}x{area.h} area")
        frame: Frame = raw.reshape(area.h, area.w)
        return frame


def open_capturer(display: str | None) -> Capturer:
    """The capturer for *display*: mss, or the generated screen of a load test's agent
    (``--synthetic-screen``, :mod:`agent.screen._synthetic`).  Raises :class:`CaptureError`."""
    from agent.screen._synthetic import SyntheticCapturer, synthetic_fps

    fps = synthetic_fps(display)
    return Capturer(display) if fps is None else SyntheticCapturer(fps)
