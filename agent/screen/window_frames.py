"""Where a Windows top-level window is on screen, and which of them the customer hid: pure logic.

No Win32 call here (it runs and is tested on every system): :mod:`agent.screen._windows_windows`
reads the windows with ctypes and hands each one over as a :class:`TopLevel`; this module
decides.

- :func:`rect_from_ltrb`: a Win32 ``RECT`` (left, top, right, bottom; right and bottom
  exclusive) as a :class:`Rect`.
- :func:`frame_rect`: the rectangle a window covers on screen.  On Windows 10 and 11,
  ``GetWindowRect`` includes the invisible resize borders (7 px left, right and bottom at
  100 % scale, none at the top) and ``DwmGetWindowAttribute(DWMWA_EXTENDED_FRAME_BOUNDS)``
  gives the visible frame; the DWM rectangle is in physical pixels even for a process that
  is not DPI aware.  The visible frame is used when it lies inside the window rectangle; when
  it does not (DPI virtualisation, a broken DWM answer) both are covered: hiding too much
  beats hiding too little.  Without DWM (Wine, Windows 7 without Aero) the window
  rectangle is used.
- :class:`HiddenWindowTable`: the customer's hidden titles matched to window handles
  (sticky: a matched window stays hidden when its title changes), and the brackets around a
  capture (every rectangle a hidden window held at the start and at the end, and, when it
  moved, the box spanning both, since it passed in between).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from agent.screen.hidden import Rect

#: Where Windows parks a minimised top-level window (``GetWindowRect`` answers -32000, -32000).
MINIMIZED_POSITION: Final = -32000


@dataclass(frozen=True)
class TopLevel:
    """One top-level window as Win32 reported it.

    ``handle`` is the HWND; ``rect`` what it covers on screen (:func:`frame_rect`);
    ``visible`` is ``IsWindowVisible``; ``minimized`` is ``IsIconic``; ``cloaked`` is
    ``DWMWA_CLOAKED`` (a window on another virtual desktop, or a suspended store app:
    "visible" yet not drawn).
    """

    handle: int
    title: str
    rect: Rect
    visible: bool = True
    minimized: bool = False
    cloaked: bool = False

    @property
    def on_screen(self) -> bool:
        """Whether it may be drawn: shown, not minimised, with an area (a cloaked window counts: hide it anyway)."""
        return self.visible and not self.minimized and not self.rect.empty

    @property
    def pickable(self) -> bool:
        """Whether the customer's picker lists it: on screen, not cloaked, with a title."""
        return self.on_screen and not self.cloaked and bool(self.title)


def rect_from_ltrb(left: int, top: int, right: int, bottom: int) -> Rect:
    """A Win32 ``RECT`` as a :class:`Rect` (a reversed one gives an empty rectangle, never a negative size)."""
    return Rect(left, top, max(0, right - left), max(0, bottom - top))


def is_minimized_rect(rect: Rect) -> bool:
    """True for the parking place of a minimised window (-32000, -32000), which no monitor shows."""
    return rect.x <= MINIMIZED_POSITION and rect.y <= MINIMIZED_POSITION


def frame_rect(window: Rect, frame: Rect | None) -> Rect:
    """What a window covers on screen, from ``GetWindowRect`` (*window*) and DWM's frame bounds (*frame*).

    *frame* is None where DWM did not answer.  See the module's docstring for the rule.
    """
    if frame is None or frame.empty:
        return window
    if window.empty or frame.intersect(window) == frame:
        return frame
    return window.union(frame)


class HiddenWindowTable:
    """The customer's hidden titles matched to windows, and what to fill around one capture.

    Fed with the current windows at each step (no state of its own but the matches and the
    rectangles at the bracket's start); used by one thread.
    """

    def __init__(self) -> None:
        self._sticky: dict[str, set[int]] = {}
        self._at_begin: dict[int, Rect] = {}

    def _match(self, titles: frozenset[str], windows: list[TopLevel]) -> None:
        alive = {window.handle for window in windows}
        for title in list(self._sticky):
            if title not in titles:
                del self._sticky[title]
            else:
                self._sticky[title] &= alive  # a destroyed window's handle may be reused by another
        for window in windows:
            if window.title in titles:
                self._sticky.setdefault(window.title, set()).add(window.handle)

    def _hidden(self, windows: list[TopLevel]) -> dict[int, Rect]:
        handles = set().union(*self._sticky.values()) if self._sticky else set()
        return {w.handle: w.rect for w in windows if w.handle in handles and w.on_screen}

    def begin(self, titles: frozenset[str], windows: list[TopLevel]) -> None:
        """Start a capture bracket: remember where the windows titled *titles* are now."""
        self._match(titles, windows)
        self._at_begin = self._hidden(windows)

    def end(self, titles: frozenset[str], windows: list[TopLevel]) -> list[Rect]:
        """End the bracket: the rectangles to fill, without duplicates.

        Each hidden window's rectangle at the start and at the end; when it moved or was
        resized in between, also the box spanning both (it passed through there while the
        screen was read).  A window that took a hidden title meanwhile is included.
        """
        self._match(titles, windows)
        after = self._hidden(windows)
        rects: list[Rect] = []
        for handle in dict.fromkeys([*self._at_begin, *after]):
            before_rect, after_rect = self._at_begin.get(handle), after.get(handle)
            rects.extend(rect for rect in (before_rect, after_rect) if rect is not None)
            if before_rect is not None and after_rect is not None and before_rect != after_rect:
                rects.append(before_rect.union(after_rect))
        self._at_begin = {}
        return list(dict.fromkeys(rects))


def listing(windows: Iterable[TopLevel]) -> list[dict[str, Any]]:
    """The customer's picker: ``{"title", "x", "y", "w", "h"}`` per window it may hide, topmost first."""
    return [{"title": window.title, **window.rect.to_dict()} for window in windows if window.pickable]
