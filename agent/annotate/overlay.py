"""Where marks appear on the customer's own screen: one interface, a backend per system.

An :class:`Overlay` shows the current marks over everything on the customer's screen,
lets every click and key go through to what is under it, and disappears with
:meth:`Overlay.close` or with the agent's process.  The screen capture reads it like
any window, so the technician sees each mark once, in the stream.

Backends, chosen once by :func:`open_overlay`:

- **X11** (:class:`agent.annotate.x11.X11Overlay`): an override-redirect window over the
  root whose SHAPE is the marks' pixels (bounding) and nothing (input).
- **Windows** (not written yet): a top-most layered window,
  ``WS_EX_LAYERED | WS_EX_TRANSPARENT | WS_EX_TOPMOST | WS_EX_TOOLWINDOW | WS_EX_NOACTIVATE``,
  over the virtual screen (``SM_XVIRTUALSCREEN``…), filled with
  ``UpdateLayeredWindow`` from a premultiplied BGRA picture of :func:`agent.annotate.render.render`
  (real alpha: no stipple needed).  ``WS_EX_TRANSPARENT`` makes it click-through; the window
  belongs to the agent's process, so it dies with it.  Re-assert ``HWND_TOPMOST`` when marks change.
- **macOS** (not written yet): a borderless ``NSWindow`` per screen, ``ignoresMouseEvents = True``,
  ``level = NSScreenSaverWindowLevel``, ``collectionBehavior`` canJoinAllSpaces | stationary,
  ``opaque = False`` with a clear background and an ``NSImageView`` of the picture (through
  PyObjC, on the main thread).  Capturing it needs the Screen Recording permission the live
  view needs anyway.
- **none** (:class:`NullOverlay`): nothing is drawn on the customer's screen (no display, an
  unsupported system); marks are still journaled and told to the customer in words.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from typing import Protocol

from agent.annotate.model import Mark

log = logging.getLogger(__name__)


class OverlayError(OSError):
    """The overlay cannot show marks (display gone, unsupported screen format)."""


class Overlay(Protocol):
    """Shows marks over the customer's screen, click-through.  Methods block; one caller at a time."""

    #: The backend's name, for the technician ("x11", "none", …).
    name: str

    def show(self, marks: Sequence[Mark]) -> None:
        """Make the screen show exactly *marks* (oldest first), on top; raises :class:`OverlayError`."""
        ...

    def close(self) -> None:
        """Remove every mark and the overlay itself; safe to call twice."""
        ...


class NullOverlay:
    """Shows nothing: where no overlay can be drawn."""

    name = "none"

    def __init__(self, reason: str = "") -> None:
        self.reason = reason
        self.marks: list[Mark] = []

    def show(self, marks: Sequence[Mark]) -> None:
        self.marks = list(marks)

    def close(self) -> None:
        self.marks = []


def open_overlay(display: str | None = None) -> Overlay:
    """The overlay for this system; a :class:`NullOverlay` (with its reason) where none can be drawn.

    Blocking (it opens a display connection): call it off the event loop.
    """
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        if display is None and not os.environ.get("DISPLAY"):
            return NullOverlay("no X display")
        try:
            from agent.annotate.x11 import X11Overlay

            return X11Overlay(display)
        except (ImportError, OSError) as err:
            log.warning("marks cannot be shown on this screen: %s", err)
            return NullOverlay(str(err))
    return NullOverlay(f"no overlay for {sys.platform} yet")
