"""Window tracking for ``--hide-window``: finding the customer's windows by title and following them.

The capability's contract is :class:`WindowTracker`; :func:`open_window_tracker`
is the one place its backend is chosen.  A new system adds
``agent/screen/_<system>.py`` and one branch there.

Availability: X11 (Linux, BSD) with python-xlib
(:class:`agent.screen._x11.X11Watcher`, which tracks windows on the same
connection as its DAMAGE); Windows (:class:`agent.screen._windows.WindowsWatcher`,
``EnumWindows`` and the DWM frame).  Elsewhere there is no tracker: the streamer then
treats a hidden window as unlocatable and hides the whole view, and
:func:`list_windows` raises :class:`wire.errors.Unsupported`.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Protocol, cast

from agent.display import is_x11_platform, x11_backend
from agent.screen.hidden import Rect
from wire.errors import Unavailable, Unsupported

log = logging.getLogger(__name__)


class WindowTracker(Protocol):
    """Where the customer's windows are, on one connection used by one thread."""

    def begin(self, titles: frozenset[str]) -> None:
        """Start a capture bracket for the windows titled *titles* (the server's state up to now is read)."""
        ...

    def end(self, titles: frozenset[str]) -> list[Rect]:
        """End the bracket: every rectangle a window titled *titles* covered since :meth:`begin`."""
        ...

    def windows(self) -> list[dict[str, Any]]:
        """The visible top-level windows: ``{"title", "x", "y", "w", "h"}`` each."""
        ...

    def close(self) -> None:
        """Release the connection; safe to call twice."""
        ...


def open_window_tracker(display: str | None) -> WindowTracker | None:
    """A tracker for this system's windows, or None where windows cannot be tracked.

    Blocking (it opens a display connection).  Never raises: a display that
    cannot be opened, python-xlib missing, or the Win32 API not loading is logged
    and gives None.
    """
    if display is not None and display.startswith("synthetic:"):
        return None  # a load test's generated screen (agent.screen._synthetic): polled, no windows
    if sys.platform == "win32":
        from agent.screen import _windows

        return _windows.open_watcher()
    if is_x11_platform():
        try:
            x11 = x11_backend("agent.screen._x11", display)
        except OSError as err:
            log.info("no X11 window tracking: %s", err)
            return None
        return cast("WindowTracker | None", x11.open_watcher(display, use_damage=False))
    return None


def list_windows(display: str | None) -> list[dict[str, Any]]:
    """The visible windows (title, x, y, w, h), for the customer's "hide a window" picker.

    Blocking.  Raises :class:`Unsupported` on a system without a window
    tracker, :class:`Unavailable` where there is one but the display cannot
    be opened.
    """
    if not is_x11_platform() and sys.platform != "win32":
        raise Unsupported(f"windows cannot be listed on {sys.platform}: hide a rectangle or a monitor instead")
    tracker = open_window_tracker(display)
    if tracker is None:
        raise Unavailable("windows cannot be listed on this system")
    try:
        return tracker.windows()
    finally:
        tracker.close()
