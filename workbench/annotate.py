"""``s.annotate``: drawing on the customer's screen from a notebook cell (T5).

A playbook can point at the button the customer must press::

    mark = s.annotate.arrow(400, 300, 520, 360)          # the head at (520, 360)
    s.annotate.text(530, 340, "Click here")
    ...
    s.annotate.remove(mark)                              # or s.annotate.clear()

Coordinates are the customer's desktop pixels (the X root window on X11: every monitor side by
side, as ``s.screenshot()`` and the widget's "All monitors" show them).  Each call returns once
the mark is on the customer's screen, and returns its id.  The agent journals every mark and
tells the customer in plain words ("The technician drew a red arrow on your screen"); the
technician sees the mark in the live view, drawn by the customer's own screen.

Raises the agent's errors: ``BadParams`` for a mark out of bounds (coordinates within
-32768..32767, width 1..64, text up to 200 characters, at most 200 marks on screen),
``NotGranted`` when the customer does not allow annotations, ``NotFound`` from
:meth:`AnnotateNamespace.remove` for a mark no longer on screen.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from typing import Any, Final

from workbench.calls import Caller

#: The widget's palette, by name; any "#rrggbb" works too.
COLOURS: Final[dict[str, str]] = {
    "red": "#e53935", "yellow": "#fdd835", "green": "#43a047", "blue": "#1e88e5", "purple": "#8e24aa",
    "orange": "#fb8c00", "black": "#000000", "white": "#ffffff",
}
RED: Final = COLOURS["red"]
YELLOW: Final = COLOURS["yellow"]


def _colour(colour: str) -> str:
    return COLOURS.get(colour.lower(), colour)


def _point(x: float, y: float) -> list[float]:
    return [x, y]


class AnnotateNamespace:
    """Marks on the customer's screen; every method returns the mark's id (see the module's docs)."""

    def __init__(self, caller: Caller) -> None:
        self._caller = caller

    def arrow(self, x1: float, y1: float, x2: float, y2: float, colour: str = RED, width: int = 4) -> str:
        """An arrow from (x1, y1) to its head at (x2, y2)."""
        return self._add("arrow", [_point(x1, y1), _point(x2, y2)], colour, width)

    def rect(self, x1: float, y1: float, x2: float, y2: float, colour: str = RED, width: int = 4) -> str:
        """A rectangle's outline, from one corner (x1, y1) to the opposite one (x2, y2)."""
        return self._add("rect", [_point(x1, y1), _point(x2, y2)], colour, width)

    def ellipse(self, x1: float, y1: float, x2: float, y2: float, colour: str = RED, width: int = 4) -> str:
        """An ellipse's outline inside the box from (x1, y1) to (x2, y2)."""
        return self._add("ellipse", [_point(x1, y1), _point(x2, y2)], colour, width)

    def text(self, x: float, y: float, text: str, colour: str = RED, width: int = 5) -> str:
        """A text label whose top-left corner is at (x, y); font size 4 × *width* px (white or black on *colour*)."""
        return self._add("text", [_point(x, y)], colour, width, text=text)

    def highlight(self, x1: float, y1: float, x2: float, y2: float, colour: str = YELLOW, width: int = 18) -> str:
        """A translucent marker stroke from (x1, y1) to (x2, y2), *width* px thick (e.g. along a line of text)."""
        return self._add("highlighter", [_point(x1, y1), _point(x2, y2)], colour, width)

    def pen(self, points: Iterable[Sequence[float]], colour: str = RED, width: int = 4) -> str:
        """A freehand stroke through *points* ([(x, y), ...], at most 2000)."""
        return self._add("pen", [_point(p[0], p[1]) for p in points], colour, width)

    def laser(self, x: float, y: float, colour: str = RED) -> str:
        """A laser dot at (x, y) that fades by itself after about 1.5 s."""
        return self._add("laser", [_point(x, y)], colour, 6)

    def remove(self, mark_id: str) -> None:
        """Remove one mark (by the id a drawing method returned); NotFound when it is gone already."""
        self._caller.call("annotate.remove", {"id": mark_id})

    def clear(self) -> int:
        """Remove every mark; returns how many were on screen."""
        return int(self._caller.call("annotate.clear").value["removed"])

    def list(self) -> builtins.list[dict[str, Any]]:
        """The marks on the customer's screen now, oldest first, as the agent holds them (wire form)."""
        return list(self._caller.call("annotate.list").value["marks"])

    def _add(self, tool: str, points: builtins.list[builtins.list[float]], colour: str, width: int,
             **extra: Any) -> str:
        mark = {"tool": tool, "points": points, "colour": _colour(colour), "width": width, **extra}
        return str(self._caller.call("annotate.add", {"mark": mark}).value["id"])
