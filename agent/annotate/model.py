"""Marks the technician draws on the customer's screen: validation, the live set, plain words.

Pure (no I/O, no clock of its own): the service passes ``now`` in.  Everything here
comes from the untrusted side, so :func:`parse_mark` bounds every field (point counts,
coordinates, sizes, text length, colour format) and raises
:class:`~wire.errors.BadParams` naming the field.

Wire form (docs/control-protocol.md): ``{"id", "tool", "points": [[x, y], ...],
"colour": "#rrggbb", "width": px, "text"?}`` in the customer's desktop pixels.
Conventions the contract leaves open, fixed here:

- ``id`` is optional on the way in (the agent makes one); it is at most 64 characters
  of ``A-Z a-z 0-9 . _ : -``.  An id already on screen is refused.
- arrow: from the first point to the second (the head is at the second);
  rect and ellipse: two opposite corners; text: the label's top-left corner;
  pen, highlighter: the stroke; laser: a short trail, newest point last.
- ``width`` is the stroke width in px (default 4; highlighter 18; laser 6; text 5); for a text
  label it sets the font size, :data:`TEXT_SIZE_PER_WIDTH` × width px.
- A laser shows for :data:`LASER_SECONDS`, fading in steps (see :meth:`MarkSet.shown`).
"""

from __future__ import annotations

import dataclasses
import math
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from agent.panel.catalogue import say
from agent.screen.hidden import Rect
from wire.errors import BadParams

Tool = Literal["pen", "arrow", "rect", "ellipse", "highlighter", "text", "laser"]
TOOLS: Final[frozenset[str]] = frozenset(get_args(Tool))
Point = tuple[int, int]

#: Marks on screen at once; beyond it the technician must remove or clear some.
MAX_MARKS: Final = 200
#: Points in one pen or highlighter stroke.
MAX_STROKE_POINTS: Final = 2000
#: Points in one laser trail.
MAX_LASER_POINTS: Final = 64
#: Points of every mark on screen together (bounds the cost of drawing them).
MAX_TOTAL_POINTS: Final = 20_000
#: Desktop coordinates an X server can address (16-bit signed).
COORD_MIN: Final = -32768
COORD_MAX: Final = 32767
WIDTH_MIN: Final = 1
WIDTH_MAX: Final = 64
MAX_TEXT_LENGTH: Final = 200
MAX_ID_LENGTH: Final = 64
TEXT_SIZE_PER_WIDTH: Final = 4
DEFAULT_COLOUR: Final = "#e53935"
DEFAULT_WIDTH: Final[dict[str, int]] = {"highlighter": 18, "laser": 6, "text": 5}
#: A laser point shows this long, then is gone by itself.
LASER_SECONDS: Final = 1.5
#: (age below which, opacity): the laser's fade, in steps an overlay without alpha can show.
LASER_FADE: Final[tuple[tuple[float, float], ...]] = ((0.8, 1.0), (1.15, 0.5), (LASER_SECONDS, 0.25))

_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
_ID = re.compile(rf"[A-Za-z0-9._:-]{{1,{MAX_ID_LENGTH}}}")
_POINT_COUNT: Final[dict[str, tuple[int, int]]] = {
    "pen": (1, MAX_STROKE_POINTS),
    "highlighter": (1, MAX_STROKE_POINTS),
    "laser": (1, MAX_LASER_POINTS),
    "arrow": (2, 2),
    "rect": (2, 2),
    "ellipse": (2, 2),
    "text": (1, 1),
}
#: Colour names for the customer's words (the widget's palette); other colours go unnamed.
COLOUR_NAMES: Final[dict[str, str]] = {
    "#e53935": "red",
    "#fdd835": "yellow",
    "#43a047": "green",
    "#1e88e5": "blue",
    "#8e24aa": "purple",
    "#fb8c00": "orange",
    "#000000": "black",
    "#ffffff": "white",
}


@dataclass(frozen=True)
class Mark:
    """One mark, validated; coordinates in desktop px.

    ``fade`` is for drawing only (1.0 solid; a fading laser is less): it never travels.
    """

    id: str
    tool: Tool
    points: tuple[Point, ...]
    colour: str
    width: int
    text: str = ""
    fade: float = 1.0

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"id": self.id, "tool": self.tool, "points": [list(p) for p in self.points],
                                "colour": self.colour, "width": self.width}
        if self.tool == "text":
            wire["text"] = self.text
        return wire

    @property
    def rgb(self) -> tuple[int, int, int]:
        value = int(self.colour[1:], 16)
        return (value >> 16, (value >> 8) & 0xFF, value & 0xFF)

    def bounds(self) -> Rect:
        """The bounding box of the points (the drawing reaches beyond it by its stroke width)."""
        xs = [x for x, _ in self.points]
        ys = [y for _, y in self.points]
        return Rect(min(xs), min(ys), max(xs) - min(xs) + 1, max(ys) - min(ys) + 1)


def new_id() -> str:
    return f"m-{secrets.token_hex(6)}"


def parse_mark(raw: Any) -> Mark:
    """Validate a mark from the wire; raises :class:`BadParams` naming the bad field."""
    if not isinstance(raw, dict):
        raise BadParams("'mark' must be an object", param="mark")
    tool = raw.get("tool")
    if tool not in TOOLS:
        raise BadParams(f"'mark.tool' must be one of {sorted(TOOLS)}", param="mark.tool")
    mark_id = raw.get("id")
    if mark_id is None:
        mark_id = new_id()
    elif not isinstance(mark_id, str) or not _ID.fullmatch(mark_id):
        raise BadParams(f"'mark.id' must be 1 to {MAX_ID_LENGTH} letters, digits or . _ : -", param="mark.id")
    colour = raw.get("colour", DEFAULT_COLOUR)
    if not isinstance(colour, str) or not _COLOUR.fullmatch(colour):
        raise BadParams("'mark.colour' must be a colour like \"#e53935\"", param="mark.colour")
    width = raw.get("width", DEFAULT_WIDTH.get(tool, 4))
    if not _is_number(width) or not WIDTH_MIN <= width <= WIDTH_MAX:
        raise BadParams(f"'mark.width' must be a number from {WIDTH_MIN} to {WIDTH_MAX}", param="mark.width")
    text = raw.get("text", "") if tool == "text" else ""
    if tool == "text":
        if not isinstance(text, str) or not text.strip():
            raise BadParams("a text mark needs a non-empty 'mark.text'", param="mark.text")
        if len(text) > MAX_TEXT_LENGTH:
            raise BadParams(f"'mark.text' is longer than {MAX_TEXT_LENGTH} characters", param="mark.text")
        if any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in text):
            raise BadParams("'mark.text' must be one line without control characters", param="mark.text")
    return Mark(id=mark_id, tool=tool, points=_parse_points(raw.get("points"), tool), colour=colour.lower(),
                width=max(WIDTH_MIN, round(width)), text=text)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _parse_points(raw: Any, tool: str) -> tuple[Point, ...]:
    least, most = _POINT_COUNT[tool]
    if not isinstance(raw, list) or not least <= len(raw) <= most:
        count = str(least) if least == most else f"{least} to {most}"
        raise BadParams(f"a {tool} mark takes {count} points in 'mark.points'", param="mark.points")
    points = []
    for item in raw:
        if not (isinstance(item, list) and len(item) == 2 and all(_is_number(v) for v in item)
                and all(COORD_MIN <= v <= COORD_MAX for v in item)):
            raise BadParams(f"each point is [x, y] in desktop pixels, within {COORD_MIN}..{COORD_MAX}",
                            param="mark.points")
        points.append((round(item[0]), round(item[1])))
    return tuple(points)


def laser_opacity(age: float) -> float | None:
    """How solid a laser mark of *age* seconds shows; None once it is gone."""
    for below, opacity in LASER_FADE:
        if age < below:
            return opacity
    return None


class MarkSet:
    """The marks on the customer's screen, oldest first.  Not thread-safe: one owner."""

    def __init__(self) -> None:
        self._marks: dict[str, Mark] = {}
        self._laser_born: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._marks)

    def __iter__(self) -> Iterator[Mark]:
        return iter(list(self._marks.values()))

    def __contains__(self, mark_id: object) -> bool:
        return mark_id in self._marks

    def add(self, mark: Mark, now: float) -> None:
        """Put *mark* on screen; raises :class:`BadParams` for a used id or when too much is drawn."""
        if mark.id in self._marks:
            raise BadParams(f"a mark with id {mark.id!r} is already on the screen", param="mark.id")
        if len(self._marks) >= MAX_MARKS:
            raise BadParams(f"{MAX_MARKS} marks are on the screen already: remove or clear some", param="mark")
        if sum(len(m.points) for m in self._marks.values()) + len(mark.points) > MAX_TOTAL_POINTS:
            raise BadParams("the marks on the screen are too detailed: remove or clear some", param="mark")
        self._marks[mark.id] = mark
        if mark.tool == "laser":
            self._laser_born[mark.id] = now

    def remove(self, mark_id: str) -> Mark | None:
        """Take the mark off; None when no such mark is on screen."""
        self._laser_born.pop(mark_id, None)
        return self._marks.pop(mark_id, None)

    def undo(self) -> Mark | None:
        """Remove the newest mark that is not a laser (lasers go by themselves)."""
        for mark in reversed(self._marks.values()):
            if mark.tool != "laser":
                return self.remove(mark.id)
        return None

    def clear(self) -> list[Mark]:
        """Remove every mark; returns those that were not lasers."""
        removed = [m for m in self._marks.values() if m.tool != "laser"]
        self._marks.clear()
        self._laser_born.clear()
        return removed

    def expire(self, now: float) -> list[Mark]:
        """Remove the lasers that have faded out; returns them."""
        gone = [mid for mid, born in self._laser_born.items() if laser_opacity(now - born) is None]
        return [mark for mid in gone if (mark := self.remove(mid)) is not None]

    def shown(self, now: float) -> list[Mark]:
        """What to draw now, oldest first, lasers at their current opacity (faded-out ones left out)."""
        shown = []
        for mark in self._marks.values():
            if mark.tool == "laser":
                opacity = laser_opacity(now - self._laser_born[mark.id])
                if opacity is None:
                    continue
                mark = dataclasses.replace(mark, fade=opacity)
            shown.append(mark)
        return shown

    def next_change(self, now: float) -> float | None:
        """Seconds until a laser's look changes (a fade step, or gone); None without lasers."""
        waits = []
        for born in self._laser_born.values():
            age = now - born
            steps = [below - age for below, _ in LASER_FADE if below > age]
            waits.append(min(steps) if steps else 0.0)
        return min(waits) if waits else None

    def to_wire(self) -> list[dict[str, Any]]:
        return [mark.to_wire() for mark in self._marks.values()]


# ------------------------------------------------------------------ plain words for the customer

def describe_mark(mark: Mark) -> str:
    """What the customer is told, e.g. ``The technician drew a red arrow on your screen``."""
    name = COLOUR_NAMES.get(mark.colour)
    if mark.tool == "text":
        shown = mark.text if len(mark.text) <= 60 else mark.text[:59] + "…"
        return say("annotate.wrote", text=shown)
    if mark.tool == "highlighter":
        return say("annotate.highlighted_in", colour=say(f"colour.{name}")) if name else say("annotate.highlighted")
    if mark.tool == "laser":
        return say("annotate.pointing")
    shape = (say(f"annotate.shape.{mark.tool}.coloured", colour=say(f"colour.{name}.a")) if name
             else say(f"annotate.shape.{mark.tool}"))
    return say("annotate.drew", shape=shape)


def describe_add(params: dict[str, Any]) -> str:
    """Words for an ``annotate.add`` call, whatever its parameters (a bad mark is refused later)."""
    try:
        return describe_mark(parse_mark(params.get("mark")))
    except BadParams:
        return say("annotate.tried")


REMOVED_WORDS: Final = say("annotate.removed")
CLEARED_WORDS: Final = say("annotate.cleared")
LISTED_WORDS: Final = say("annotate.listed")
