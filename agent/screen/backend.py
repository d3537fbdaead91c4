"""The screen watcher: what tells the streamer that something was drawn, and where hidden windows are.

The capability's contract is :class:`ScreenWatcher`; :func:`open_watcher` is the
one place its backend is chosen.  A new system adds ``agent/screen/_<system>.py``
and one branch there.  The capture itself (mss) runs everywhere and needs no
backend here.

Availability: X11 (Linux, BSD) with python-xlib, :class:`agent.screen._x11.X11Watcher`
(DAMAGE and window tracking on one connection); Windows,
:class:`agent.screen._windows.WindowsWatcher` (no drawing notifications: the streamer
polls; window tracking with Win32).  Elsewhere :func:`open_watcher` returns None: the
streamer polls, and hides the whole view while a window is hidden (it cannot be located).
"""

from __future__ import annotations

import logging
import sys
from typing import Protocol, cast

from agent.display import is_x11_platform, x11_backend
from agent.screen.hidden import Rect
from agent.screen.tracking import WindowTracker

log = logging.getLogger(__name__)


class ScreenWatcher(WindowTracker, Protocol):
    """Drawing notifications and window tracking on one connection; one thread only."""

    #: True once something was drawn since the last :meth:`rearm`.
    damaged: bool

    @property
    def has_damage(self) -> bool:
        """True when the system reports drawing; otherwise the streamer polls."""
        ...

    def fileno(self) -> int:
        """A descriptor that becomes readable when there is news, to wait on with ``select()``."""
        ...

    def poll(self) -> None:
        """Handle every notification already received (sets :attr:`damaged`)."""
        ...

    def rearm(self) -> Rect | None:
        """Clear the accumulated drawing, just before a capture, so the next drawing reports again.

        Returns the bounding box (virtual-screen coordinates) of what was drawn since the last
        rearm, which the capture must read, or None when that is not known (read everything).
        """
        ...


def open_watcher(display: str | None, *, use_damage: bool = True) -> ScreenWatcher | None:
    """This system's screen watcher, or None where there is none (the streamer then polls).

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
            log.info("no X11 screen watcher: %s", err)
            return None
        return cast("ScreenWatcher | None", x11.open_watcher(display, use_damage=use_damage))
    return None
