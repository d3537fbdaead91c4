"""The screen watcher on Windows: polling (no drawing notifications) and window tracking by title.

Availability: Windows, through ctypes.  Imported only by :mod:`agent.screen.backend` and
:mod:`agent.screen.tracking`, which choose it on ``win32``.

Capture itself stays with mss (:mod:`agent.screen.capture`), as on every system: on
Windows mss 10 is GDI ``BitBlt(SRCCOPY | CAPTUREBLT)`` into a DIB section (``CAPTUREBLT`` so
that layered windows, the marks overlay among them, are in the picture), monitors from
``EnumDisplayMonitors`` with the primary flagged, and the process made per-monitor DPI
aware.  Writing the same BitBlt again here would only add a second capture path to keep
right; under Wine mss's grab is pixel for pixel the X server's.

Change detection: Windows has no XDamage a user program can use (the Desktop Duplication
API needs Direct3D and gives nothing under Wine), so :attr:`WindowsWatcher.has_damage` is
False and the streamer polls; the frame pipeline compares each capture with the last one
tile by tile, so an idle screen sends nothing.  :meth:`WindowsWatcher.fileno` is a socket
that never becomes readable: the streamer's ``select()`` accepts only sockets on Windows.

Window tracking: each capture is bracketed by :meth:`WindowsWatcher.begin` and
:meth:`WindowsWatcher.end`, which read the top-level windows afresh
(:class:`agent.screen._windows_windows.Win32Windows`) and fill where a hidden window was at
both ends and, if it moved, everything in between (:mod:`agent.screen.window_frames`).
"""

from __future__ import annotations

import contextlib
import logging
import socket
from typing import Any

from agent.screen._windows_windows import Win32Windows
from agent.screen.hidden import Rect
from agent.screen.window_frames import HiddenWindowTable, listing

log = logging.getLogger(__name__)


class WindowsWatcher:
    """Polling and top-level window tracking; one thread only.

    Implements :class:`agent.screen.backend.ScreenWatcher` (with ``has_damage`` False).
    Raises :class:`OSError` from the constructor when the Win32 API cannot be loaded.
    """

    def __init__(self) -> None:
        self._windows = Win32Windows()
        self._table = HiddenWindowTable()
        self._never, self._unused = socket.socketpair()
        #: Always True: without drawing notifications every poll may find a change.
        self.damaged = True

    @property
    def has_damage(self) -> bool:
        """False: Windows reports no drawing; the streamer polls."""
        return False

    def fileno(self) -> int:
        """A socket that never becomes readable (news comes by polling)."""
        return self._never.fileno()

    def poll(self) -> None:
        """Nothing to handle: there are no notifications."""

    def rearm(self) -> Rect | None:
        """Nothing to rearm: there are no notifications; where drawing happened is unknown (None)."""
        return None

    def begin(self, titles: frozenset[str]) -> None:
        """Start a capture bracket: where the windows titled *titles* are now."""
        self._table.begin(titles, self._windows.top_levels())

    def end(self, titles: frozenset[str]) -> list[Rect]:
        """End the bracket: every rectangle to fill for the windows titled *titles*."""
        return self._table.end(titles, self._windows.top_levels())

    def windows(self) -> list[dict[str, Any]]:
        """The visible titled top-level windows, topmost first, for the customer's picker."""
        return listing(self._windows.top_levels())

    def close(self) -> None:
        """Release the sockets; safe to call twice."""
        for sock in (self._never, self._unused):
            with contextlib.suppress(OSError):
                sock.close()


def open_watcher() -> WindowsWatcher | None:
    """A :class:`WindowsWatcher`, or None (logged) when the Win32 API cannot be loaded."""
    try:
        return WindowsWatcher()
    except OSError as err:
        log.info("no Windows window tracking: %s", err)
        return None
