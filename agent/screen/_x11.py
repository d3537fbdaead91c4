"""The screen watcher on X11: DAMAGE (is anything drawn?) and window tracking, on one connection.

Availability: X11 (Linux, BSD), through python-xlib.  Imported only by
:mod:`agent.screen.backend` and :mod:`agent.screen.tracking`, which choose it.

One :class:`X11Watcher` holds one connection, used by one thread (the
streamer's worker).  It selects ``SubstructureNotify`` on the root window, so
the X server reports every top-level window's creation, mapping and move
(followed by :class:`agent.screen._x11_windows.X11TopLevels`).  To mask a
moving window exactly, the streamer brackets each capture between
:meth:`X11Watcher.begin` and :meth:`X11Watcher.end`: each ends with a round
trip, so every move the server made before the capture was reported by the
time ``end`` returns, and ``end`` returns every position a hidden window held
in between.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any

import Xlib.display
import Xlib.error
from Xlib import X
from Xlib.ext import damage as xdamage

from agent.screen._x11_windows import X11TopLevels
from agent.screen.hidden import Rect

log = logging.getLogger(__name__)


class X11Watcher:
    """DAMAGE and top-level windows on one X connection; one thread only.

    Implements :class:`agent.screen.backend.ScreenWatcher`.  Raises
    :class:`OSError` from the constructor when the display cannot be opened
    (the caller then falls back to polling).
    """

    def __init__(self, display: str | None = None, *, use_damage: bool = True) -> None:
        try:
            self._display = Xlib.display.Display(display)
        except (Xlib.error.DisplayError, Xlib.error.ConnectionClosedError, OSError) as err:
            raise OSError(f"cannot open X display {display or os.environ.get('DISPLAY')!r}: {err}") from err
        # Windows vanish between an event and a query; their errors are expected and harmless.
        self._display.set_error_handler(lambda *args: None)
        self._root = self._display.screen().root
        self.damaged = True
        #: the bounding box (root coordinates) of what was drawn since the last rearm; None: unknown
        self._drawn: Rect | None = None
        self._damage: int | None = None
        self._damage_event = -1
        self._root.change_attributes(event_mask=X.SubstructureNotifyMask)
        if use_damage and self._display.has_extension("DAMAGE"):
            xdamage.query_version(self._display)
            # The bounding box, not just "something": the streamer reads only that part of the screen.
            self._damage = xdamage.damage_create(self._root, xdamage.DamageReportBoundingBox)
            # python-xlib registers a copy of the event class: compare codes, not classes.
            extension = self._display.query_extension("DAMAGE")
            if extension is not None:
                self._damage_event = extension.first_event + xdamage.DamageNotifyCode
        self._windows = X11TopLevels(self._display)
        self._display.sync()

    @property
    def has_damage(self) -> bool:
        """True when the server reports drawing (DAMAGE); otherwise the caller polls."""
        return self._damage is not None

    def fileno(self) -> int:
        """The connection's socket, to wait on with select()."""
        return int(self._display.fileno())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self._damage is not None:
                xdamage.damage_destroy(self._display, self._damage)
            self._display.close()

    # Events.

    def poll(self) -> None:
        """Handle every event already received; sets :attr:`damaged` on drawing."""
        late = self._drain()
        if late is not None:
            self.damaged = True
            if self._drawn is not None:
                self._drawn = self._drawn.union(late)

    def _drain(self) -> Rect | None:
        """Handle the events received; the bounding box of the drawing they report (None: none)."""
        drawn: Rect | None = None
        while self._display.pending_events():
            event = self._display.next_event()
            if event.type == self._damage_event:
                area = event.area
                box = Rect(int(area.x), int(area.y), int(area.width), int(area.height))
                drawn = box if drawn is None else drawn.union(box)
            else:
                self._windows.handle(event)
        return drawn

    def rearm(self) -> Rect | None:
        """Clear the accumulated damage, so that the next drawing reports again; returns what was drawn.

        Call it just before a capture: whatever is drawn from then on is
        reported, so no change is missed between two captures.  The result is the
        bounding box (root coordinates) of what was drawn since the last rearm, which the
        capture must read; None when that is not known (the first time): read everything.
        """
        self.poll()
        drawn, self._drawn = self._drawn, Rect(0, 0, 0, 0)
        self.damaged = False
        if self._damage is not None:
            xdamage.damage_subtract(self._display, self._damage, 0, 0)
            # python-xlib buffers requests: without this round trip the subtract could reach
            # the server after the capture (made on another connection) and wipe out drawing
            # done in between, which DAMAGE would then never report again.  One round trip is
            # enough: the server answers it after it has applied every request before it.
            self._display.sync()
            # Reports read during the round trip: drawing from before the subtraction (this capture
            # must read it) or after (the next one must): both are told.
            late = self._drain()
            if late is not None:
                self.damaged = True
                self._drawn = late
                drawn = None if drawn is None else drawn.union(late)
        return drawn if self._damage is not None else None

    # Windows (the WindowTracker protocol).

    def begin(self, titles: frozenset[str]) -> None:
        """Start a capture bracket for the windows titled *titles*.

        Does a round trip, so that the server's state up to now is known.
        """
        self._display.sync()
        self.poll()
        self._windows.begin_bracket(titles)

    def end(self, titles: frozenset[str]) -> list[Rect]:
        """End the bracket: every rectangle a hidden window covered since :meth:`begin`.

        A window that took a hidden title during the capture is included.
        """
        self._display.sync()
        self.poll()
        return self._windows.end_bracket(titles)

    def windows(self) -> list[dict[str, Any]]:
        """The visible top-level windows, for the customer's picker: title and rectangle."""
        self._display.sync()
        self.poll()
        return self._windows.listing()


def open_watcher(display: str | None, *, use_damage: bool = True) -> X11Watcher | None:
    """An :class:`X11Watcher`, or None (logged) when the display cannot be opened."""
    try:
        return X11Watcher(display, use_damage=use_damage)
    except OSError as err:
        log.info("no X11 window tracking: %s", err)
        return None
