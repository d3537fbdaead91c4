"""What the customer hides (C4), and how hidden pixels are overwritten.

:class:`HiddenRegions` is the customer's live list: rectangles, windows
(tracked by title, see :mod:`agent.screen.tracking`), whole monitors, and a pause
switch.  It is pure data, safe to change from any thread (the customer window,
the command line) while the streamer reads it; each change calls the
registered callbacks so that the next frame masks the new area at once.

:func:`fill_rects` overwrites pixels in a captured BGRA buffer *in place*.  The
streamer and ``screen.screenshot`` call it before anything else looks at the
pixels (comparison, encoding), so hidden pixels never reach an encoder.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

#: The flat fill of hidden areas, as B, G, R, X bytes (a dark grey).
FILL_BGRA: Final = (48, 48, 48, 255)
#: The label the viewer draws over a hidden area.
HIDDEN_LABEL: Final = "Hidden by the customer"


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle in pixels; ``w`` and ``h`` are never negative."""

    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    @property
    def empty(self) -> bool:
        return self.w <= 0 or self.h <= 0

    def intersect(self, other: Rect) -> Rect:
        """The overlap of two rectangles (empty, with zero size, when they do not meet)."""
        x, y = max(self.x, other.x), max(self.y, other.y)
        right, bottom = min(self.right, other.right), min(self.bottom, other.bottom)
        return Rect(x, y, max(0, right - x), max(0, bottom - y))

    def union(self, other: Rect) -> Rect:
        """The bounding box of both (an empty one is ignored)."""
        if self.empty:
            return other
        if other.empty:
            return self
        x, y = min(self.x, other.x), min(self.y, other.y)
        return Rect(x, y, max(self.right, other.right) - x, max(self.bottom, other.bottom) - y)

    def translate(self, dx: int, dy: int) -> Rect:
        return Rect(self.x + dx, self.y + dy, self.w, self.h)

    def to_dict(self) -> dict[str, int]:
        return {"x": self.x, "y": self.y, "w": self.w, "h": self.h}


def parse_rect(text: str) -> Rect:
    """``"X,Y,W,H"`` (the command line's ``--hide-rect``) as a :class:`Rect`.

    Raises ValueError when it is not four integers or the size is not positive.
    """
    parts = text.replace(" ", "").split(",")
    if len(parts) != 4:
        raise ValueError(f"a rectangle is X,Y,W,H, not {text!r}")
    x, y, w, h = (int(part) for part in parts)
    if w <= 0 or h <= 0:
        raise ValueError(f"a hidden rectangle needs a positive size, not {w}x{h}")
    return Rect(x, y, w, h)


@dataclass(frozen=True)
class HiddenItem:
    """One thing the customer hid: a rectangle, a window (by title) or a monitor."""

    id: str
    kind: str  # "rect" | "window" | "monitor"
    rect: Rect | None = None
    title: str | None = None
    monitor: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A plain description for the customer window."""
        item: dict[str, Any] = {"id": self.id, "kind": self.kind}
        if self.rect is not None:
            item.update(self.rect.to_dict())
        if self.title is not None:
            item["title"] = self.title
        if self.monitor is not None:
            item["monitor"] = self.monitor
        return item


class HiddenRegions:
    """The customer's hidden areas and pause switch; thread-safe.

    Rectangles are in virtual-screen pixels (the X root window on Linux);
    monitors are 0-based indexes as listed by ``screen.monitors``; windows are
    matched by their exact title, and once matched a window stays hidden even
    if its title changes later (a browser tab title, say).
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._items: dict[str, HiddenItem] = {}
        self._paused = False
        self._ids = itertools.count(1)
        self._callbacks: list[Callable[[], None]] = []

    # Changes (from the customer window or the command line).

    def add_rect(self, x: int, y: int, w: int, h: int) -> str:
        """Hide a rectangle of the virtual screen; returns its id.

        Raises ValueError when the width or height is not positive.
        """
        if w <= 0 or h <= 0:
            raise ValueError(f"a hidden rectangle needs a positive size, not {w}x{h}")
        return self._add(HiddenItem("", "rect", rect=Rect(int(x), int(y), int(w), int(h))))

    def add_window(self, title: str) -> str:
        """Hide every window whose title is *title*, wherever it moves; returns its id.

        Raises ValueError on an empty title.
        """
        if not title:
            raise ValueError("a hidden window needs a title")
        return self._add(HiddenItem("", "window", title=title))

    def add_monitor(self, index: int) -> str:
        """Hide a whole monitor (0-based, as listed by ``screen.monitors``); returns its id.

        Raises ValueError on a negative index.
        """
        if index < 0:
            raise ValueError(f"no monitor {index}")
        return self._add(HiddenItem("", "monitor", monitor=int(index)))

    def remove(self, item_id: str) -> None:
        """Stop hiding *item_id*; raises KeyError when there is no such item."""
        with self._lock:
            del self._items[item_id]
        self._changed()

    def pause(self) -> None:
        """Stop the view entirely: no frame leaves the machine until :meth:`resume`."""
        with self._lock:
            if self._paused:
                return
            self._paused = True
        self._changed()

    def resume(self) -> None:
        """Undo :meth:`pause`."""
        with self._lock:
            if not self._paused:
                return
            self._paused = False
        self._changed()

    def on_change(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call *callback* (from the changing thread) after every change; returns an unsubscribe function."""
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._callbacks.remove(callback)

        return unsubscribe

    # Reads (from the streamer).

    @property
    def paused(self) -> bool:
        with self._lock:
            return self._paused

    def unless_paused(self, action: Callable[[], None]) -> bool:
        """Run *action* unless paused, atomically with :meth:`pause`; returns whether it ran.

        *action* must be quick (it holds the lock): the streamer hands a frame
        over with it, so no frame follows the customer's pause.
        """
        with self._lock:
            if self._paused:
                return False
            action()
            return True

    def snapshot(self) -> tuple[bool, list[HiddenItem]]:
        """The pause switch and the items, read together."""
        with self._lock:
            return self._paused, list(self._items.values())

    def items(self) -> list[dict[str, Any]]:
        """The hidden items as plain dicts, for the customer window."""
        with self._lock:
            return [item.to_dict() for item in self._items.values()]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def _add(self, item: HiddenItem) -> str:
        with self._lock:
            item_id = f"h{next(self._ids)}"
            self._items[item_id] = HiddenItem(item_id, item.kind, item.rect, item.title, item.monitor)
        self._changed()
        return item_id

    def _changed(self) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()


def fill_rects(frame: npt.NDArray[np.uint32], rects: Iterable[Rect], origin: tuple[int, int] = (0, 0)) -> list[Rect]:
    """Overwrite *rects* (virtual-screen coordinates) in *frame* with the hidden fill.

    *frame* is a ``(height, width)`` array of BGRA pixels as ``uint32`` whose
    top-left pixel is at *origin* on the virtual screen.  Returns the filled
    rectangles in frame coordinates, clipped, without empty ones.
    """
    height, width = frame.shape
    bounds = Rect(0, 0, width, height)
    fill = np.frombuffer(bytes(FILL_BGRA), dtype=np.uint32)[0]
    filled: list[Rect] = []
    for rect in rects:
        local = rect.translate(-origin[0], -origin[1]).intersect(bounds)
        if local.empty:
            continue
        frame[local.y : local.bottom, local.x : local.right] = fill
        filled.append(local)
    return filled
