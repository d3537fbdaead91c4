"""agent.annotate.model and .render: validation of untrusted marks, the live set, words, pixels."""

from __future__ import annotations

from typing import Any

import pytest

from agent.annotate import model
from agent.annotate.model import Mark, MarkSet, describe_add, describe_mark, parse_mark
from agent.annotate.render import mark_box, render
from agent.screen.hidden import Rect
from wire.errors import BadParams

SCREEN = Rect(0, 0, 800, 600)
RED = (0xE5, 0x39, 0x35)


def mark(tool: str = "arrow", points: Any = None, **fields: Any) -> Mark:
    default_points = {"text": [[10, 10]], "pen": [[0, 0], [5, 5], [9, 3]], "laser": [[50, 50]],
                      "highlighter": [[0, 0], [100, 0]]}.get(tool, [[10, 20], [110, 220]])
    raw = {"tool": tool, "points": default_points if points is None else points, **fields}
    if tool == "text":
        raw.setdefault("text", "Click here")
    return parse_mark(raw)


# ------------------------------------------------------------------ validation


def test_a_valid_mark_is_normalised() -> None:
    parsed = parse_mark({"id": "v1-3", "tool": "rect", "points": [[10.4, 20.6], [30, 40]], "colour": "#E53935",
                         "width": 2.6})
    assert parsed == Mark("v1-3", "rect", ((10, 21), (30, 40)), "#e53935", 3)
    assert parsed.to_wire() == {"id": "v1-3", "tool": "rect", "points": [[10, 21], [30, 40]], "colour": "#e53935",
                                "width": 3}
    assert parsed.rgb == RED
    assert parsed.bounds() == Rect(10, 21, 21, 20)


def test_defaults_an_id_colour_and_width_per_tool() -> None:
    first, second = mark("arrow"), mark("arrow")
    assert first.id != second.id and first.id.startswith("m-")
    assert (first.colour, first.width) == (model.DEFAULT_COLOUR, 4)
    assert mark("highlighter").width == 18
    assert mark("laser").width == 6
    text = mark("text", text="Cliquez ici : é, ç, ß, ж")
    assert text.to_wire()["text"] == "Cliquez ici : é, ç, ß, ж"
    assert "text" not in mark("pen", text="ignored").to_wire()


@pytest.mark.parametrize(("raw", "param"), [
    ("arrow", "mark"),
    ({"tool": "spray", "points": [[0, 0]]}, "mark.tool"),
    ({"tool": "arrow", "points": [[0, 0]]}, "mark.points"),
    ({"tool": "arrow", "points": [[0, 0], [1, 1], [2, 2]]}, "mark.points"),
    ({"tool": "text", "points": [[0, 0], [1, 1]], "text": "x"}, "mark.points"),
    ({"tool": "pen", "points": []}, "mark.points"),
    ({"tool": "pen", "points": [[0, 0]] * (model.MAX_STROKE_POINTS + 1)}, "mark.points"),
    ({"tool": "laser", "points": [[0, 0]] * (model.MAX_LASER_POINTS + 1)}, "mark.points"),
    ({"tool": "pen", "points": "0,0"}, "mark.points"),
    ({"tool": "pen", "points": [[0, 0, 0]]}, "mark.points"),
    ({"tool": "pen", "points": [["0", 0]]}, "mark.points"),
    ({"tool": "pen", "points": [[True, 0]]}, "mark.points"),
    ({"tool": "pen", "points": [[float("nan"), 0]]}, "mark.points"),
    ({"tool": "pen", "points": [[float("inf"), 0]]}, "mark.points"),
    ({"tool": "pen", "points": [[40000, 0]]}, "mark.points"),
    ({"tool": "pen", "points": [[0, -40000]]}, "mark.points"),
    ({"tool": "pen", "points": [[0, 0]], "colour": "red"}, "mark.colour"),
    ({"tool": "pen", "points": [[0, 0]], "colour": "#e5393"}, "mark.colour"),
    ({"tool": "pen", "points": [[0, 0]], "colour": "#e53935ff"}, "mark.colour"),
    ({"tool": "pen", "points": [[0, 0]], "colour": None}, "mark.colour"),
    ({"tool": "pen", "points": [[0, 0]], "width": 0}, "mark.width"),
    ({"tool": "pen", "points": [[0, 0]], "width": 65}, "mark.width"),
    ({"tool": "pen", "points": [[0, 0]], "width": "4"}, "mark.width"),
    ({"tool": "pen", "points": [[0, 0]], "id": ""}, "mark.id"),
    ({"tool": "pen", "points": [[0, 0]], "id": "a b"}, "mark.id"),
    ({"tool": "pen", "points": [[0, 0]], "id": "x" * 65}, "mark.id"),
    ({"tool": "pen", "points": [[0, 0]], "id": 7}, "mark.id"),
    ({"tool": "text", "points": [[0, 0]]}, "mark.text"),
    ({"tool": "text", "points": [[0, 0]], "text": "   "}, "mark.text"),
    ({"tool": "text", "points": [[0, 0]], "text": "x" * 201}, "mark.text"),
    ({"tool": "text", "points": [[0, 0]], "text": "two\nlines"}, "mark.text"),
    ({"tool": "text", "points": [[0, 0]], "text": "bell\x07"}, "mark.text"),
    ({"tool": "text", "points": [[0, 0]], "text": 5}, "mark.text"),
])
def test_bad_marks_are_refused_naming_the_field(raw: Any, param: str) -> None:
    with pytest.raises(BadParams) as caught:
        parse_mark(raw)
    assert caught.value.details["param"] == param


# ------------------------------------------------------------------ the live set


def test_add_remove_undo_clear() -> None:
    marks = MarkSet()
    arrow, rect, laser = mark("arrow", id="a"), mark("rect", id="r"), mark("laser", id="l")
    for item in (arrow, rect, laser):
        marks.add(item, now=0.0)
    assert [m.id for m in marks] == ["a", "r", "l"] and len(marks) == 3 and "r" in marks
    with pytest.raises(BadParams):
        marks.add(mark("pen", id="a"), now=0.0)
    assert marks.undo() == rect  # the newest that is not a laser
    assert marks.remove("nope") is None
    assert marks.remove("a") == arrow
    marks.add(mark("text", id="t"), now=0.0)
    assert marks.clear() == [mark("text", id="t")]  # lasers are not counted as removed
    assert len(marks) == 0 and marks.undo() is None


def test_how_much_may_be_drawn_is_bounded() -> None:
    marks = MarkSet()
    for index in range(model.MAX_MARKS):
        marks.add(mark("arrow", id=f"m{index}"), now=0.0)
    with pytest.raises(BadParams, match="remove or clear"):
        marks.add(mark("arrow"), now=0.0)
    marks.clear()
    stroke = [[i % 500, i // 500] for i in range(model.MAX_STROKE_POINTS)]
    for _ in range(model.MAX_TOTAL_POINTS // model.MAX_STROKE_POINTS):
        marks.add(mark("pen", stroke), now=0.0)
    with pytest.raises(BadParams, match="too detailed"):
        marks.add(mark("pen", [[0, 0]]), now=0.0)


def test_a_laser_fades_in_steps_then_goes() -> None:
    marks = MarkSet()
    marks.add(mark("laser", id="l"), now=10.0)
    marks.add(mark("arrow", id="a"), now=10.0)
    assert marks.next_change(10.0) == pytest.approx(model.LASER_FADE[0][0])
    fades = [[(m.id, m.fade) for m in marks.shown(10.0 + age)] for age in (0.0, 1.0, 1.3, 1.6)]
    assert fades == [[("l", 1.0), ("a", 1.0)], [("l", 0.5), ("a", 1.0)], [("l", 0.25), ("a", 1.0)], [("a", 1.0)]]
    assert marks.expire(11.0) == []
    assert [m.id for m in marks.expire(10.0 + model.LASER_SECONDS)] == ["l"]
    assert marks.next_change(12.0) is None
    assert [m.id for m in marks] == ["a"]


def test_the_customer_is_told_in_plain_words() -> None:
    assert describe_mark(mark("arrow")) == "The technician drew a red arrow on your screen"
    assert describe_mark(mark("ellipse", colour="#fb8c00")) == "The technician drew an orange circle on your screen"
    assert describe_mark(mark("rect", colour="#123456")) == "The technician drew a rectangle on your screen"
    assert describe_mark(mark("pen", colour="#1e88e5")) == "The technician drew a blue line on your screen"
    assert describe_mark(mark("highlighter", colour="#fdd835")) == (
        "The technician highlighted part of your screen in yellow")
    assert describe_mark(mark("text", text="Click here")) == "The technician wrote 'Click here' on your screen"
    assert describe_mark(mark("text", text="x" * 100)).endswith("x…' on your screen")
    assert describe_mark(mark("laser")) == "The technician is pointing at something on your screen"
    assert describe_add({"mark": {"tool": "arrow", "points": [[0, 0], [1, 1]]}}).startswith("The technician drew")
    assert describe_add({"mark": "nonsense"}) == "The technician tried to draw on your screen"


# ------------------------------------------------------------------ pixels


def pixel(rendering: Any, x: int, y: int) -> tuple[int, int, int] | None:
    """The colour shown at desktop (x, y), or None where the desktop shows through."""
    dx, dy = x - rendering.area.x, y - rendering.area.y
    if not (0 <= dx < rendering.area.w and 0 <= dy < rendering.area.h) or not rendering.mask.getpixel((dx, dy)):
        return None
    return tuple(rendering.image.getpixel((dx, dy)))


def test_render_paints_marks_only_where_they_are() -> None:
    rect = mark("rect", [[100, 100], [300, 200]], width=6)
    rendering = render([rect], SCREEN)
    assert rendering is not None
    assert rendering.area.intersect(Rect(100, 100, 201, 101)) == Rect(100, 100, 201, 101)
    assert pixel(rendering, 100, 150) == RED and pixel(rendering, 105, 150) == RED  # the 6 px edge
    assert pixel(rendering, 150, 150) is None  # inside: the desktop shows
    assert pixel(rendering, 90, 150) is None
    arrow = render([mark("arrow", [[400, 300], [500, 300]], colour="#1e88e5")], SCREEN)
    assert arrow is not None
    assert pixel(arrow, 450, 300) == (0x1E, 0x88, 0xE5) and pixel(arrow, 497, 300) == (0x1E, 0x88, 0xE5)
    assert pixel(arrow, 450, 320) is None


def test_later_marks_are_on_top_and_off_screen_parts_are_clipped() -> None:
    under = mark("rect", [[0, 0], [60, 60]], colour="#43a047", width=10)
    over = mark("pen", [[-50, 5], [100, 5]], width=4)
    rendering = render([under, over], SCREEN)
    assert rendering is not None and rendering.area.x == 0 and rendering.area.y == 0
    assert pixel(rendering, 5, 5) == RED
    assert pixel(rendering, 5, 30) == (0x43, 0xA0, 0x47)
    assert render([mark("rect", [[-500, -500], [-400, -400]])], SCREEN) is None
    assert render([], SCREEN) is None


def test_translucency_is_a_stipple_anchored_on_the_desktop() -> None:
    stroke = mark("highlighter", [[100, 100], [300, 100]], colour="#fdd835", width=20)
    rendering = render([stroke], SCREEN)
    assert rendering is not None
    shown = [pixel(rendering, x, y) for y in range(95, 105) for x in range(150, 170)]
    assert all(shown[i] == ((0xFD, 0xD8, 0x35) if (150 + i % 20 + 95 + i // 20) % 2 == 0 else None)
               for i in range(len(shown)))
    laser = mark("laser", [[400, 400]], width=10)
    faded = render([Mark(laser.id, "laser", laser.points, laser.colour, laser.width, fade=0.25)], SCREEN)
    assert faded is not None
    block = [pixel(faded, x, y) for y in range(398, 402) for x in range(398, 402)]
    assert sum(p is not None for p in block) == 4  # one pixel in four


def test_a_text_label_is_a_box_of_its_colour_with_readable_ink() -> None:
    label = mark("text", [[200, 300]], text="Click here", colour="#fdd835", width=5)
    box = mark_box(label)
    assert (box.x, box.y) == (200, 300) and 80 < box.w < 200 and 20 < box.h < 40
    rendering = render([label], SCREEN)
    assert rendering is not None
    colours = [pixel(rendering, x, y) for x in range(box.x, box.right) for y in range(box.y, box.bottom)]
    assert None not in colours  # the whole box covers the desktop
    assert colours.count((0xFD, 0xD8, 0x35)) > len(colours) / 2 and (0, 0, 0) in colours  # black ink on yellow
    dark = render([mark("text", [[0, 0]], text="OK", colour="#1e88e5")], SCREEN)
    assert dark is not None
    assert (255, 255, 255) in {dark.image.getpixel((x, y)) for x in range(dark.area.w) for y in range(dark.area.h)}
