"""The customer's screen: live view for the technician, screenshots, and what the customer hides (T1, C4).

Public names:

- :class:`HiddenRegions`: the customer's hidden rectangles, windows, monitors
  and pause switch (thread-safe; the customer window and the command line
  change it, the streamer reads it).
- :class:`ScreenService`: streams ``screen.frame`` events while viewers are
  connected, handles their ``screen.*`` events, and provides the methods
  ``screen.screenshot`` and ``screen.monitors`` (:attr:`ScreenService.METHODS`).

Frame format and viewer protocol: ``docs/screen-protocol.md``.
Hidden pixels are overwritten in the captured buffer before any comparison
or encoding, so none of them leaves the machine.

Availability: capture wherever mss runs (X11, Windows, macOS); DAMAGE-driven
capture and hidden windows on X11 with python-xlib; hidden windows on Windows
(polled capture, windows read with Win32).  Elsewhere the streamer polls, and a
hidden window hides the whole view (it cannot be located).  The
per-platform parts are chosen in one place each: the screen watcher in
:mod:`agent.screen.backend`, window tracking in :mod:`agent.screen.tracking`.
"""

from agent.screen.hidden import FILL_BGRA, HIDDEN_LABEL, HiddenItem, HiddenRegions, Rect, parse_rect
from agent.screen.service import NOT_VIEWED, VIEWED, ScreenService

__all__ = ["FILL_BGRA", "HIDDEN_LABEL", "NOT_VIEWED", "VIEWED", "HiddenItem", "HiddenRegions", "Rect",
           "ScreenService", "parse_rect"]
