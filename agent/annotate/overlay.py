"""Where marks appear on the customer's own screen: one interface, a backend per system.

An :class:`Overlay` shows the current marks over everything on the customer's screen,
lets every click and key go through to what is under it, and disappears with
:meth:`Overlay.close` or with the agent's process.  The screen capture reads it like
any window, so the technician sees each mark once, in the stream.

Backends, chosen once by :func:`open_overlay` (the protocol they implement is in
:mod:`agent.annotate.base`; a new system adds ``_<system>.py`` and one branch here):

- **X11** (:class:`agent.annotate._x11.X11Overlay`): an override-redirect window over the
  root whose SHAPE is the marks' pixels (bounding) and nothing (input).
- **Windows** (:class:`agent.annotate._windows.WindowsOverlay`): a top-most layered window,
  ``WS_EX_LAYERED | WS_EX_TRANSPARENT | WS_EX_TOPMOST | WS_EX_TOOLWINDOW | WS_EX_NOACTIVATE``,
  on the virtual screen (``SM_XVIRTUALSCREEN``…), filled with ``UpdateLayeredWindow`` from a
  premultiplied BGRA picture of :func:`agent.annotate.render.render`.  ``WS_EX_TRANSPARENT``
  makes it click-through; the window belongs to the agent's process, so it dies with it.
  ``HWND_TOPMOST`` is asserted again when marks change.
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
import sys

from agent.annotate.base import NullOverlay, Overlay, OverlayError
from agent.display import has_x11_display, is_x11_platform

__all__ = ["NullOverlay", "Overlay", "OverlayError", "open_overlay"]

log = logging.getLogger(__name__)


def open_overlay(display: str | None = None) -> Overlay:
    """The overlay for this system; a :class:`NullOverlay` (with its reason) where none can be drawn.

    The one place the backend is chosen.  Blocking (it opens a display
    connection): call it off the event loop.  Never raises.

    Availability: X11 (Linux, BSD) with python-xlib; Windows; elsewhere a :class:`NullOverlay`.
    """
    if sys.platform == "win32":
        try:
            from agent.annotate._windows import WindowsOverlay

            return WindowsOverlay()
        except OverlayError as err:
            log.warning("marks cannot be shown on this screen: %s", err)
            return NullOverlay(str(err))
    if is_x11_platform():
        if not has_x11_display(display):
            return NullOverlay("no X display")
        try:
            from agent.annotate._x11 import X11Overlay

            return X11Overlay(display)
        except (ImportError, OSError) as err:
            log.warning("marks cannot be shown on this screen: %s", err)
            return NullOverlay(str(err))
    return NullOverlay(f"no overlay for {sys.platform} yet")
