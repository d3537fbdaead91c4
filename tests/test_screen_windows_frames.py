"""The Windows window-tracking decisions, fed with the values Win32 documents (runs on Linux).

Wine has no DWM (``DwmGetWindowAttribute`` does not answer) and no DPI scaling, so what
:func:`frame_rect` does with a real DWM frame is held here, from the documented cases:
``GetWindowRect`` on Windows 10/11 includes invisible resize borders (7 px left, right and
bottom at 100 %), ``DWMWA_EXTENDED_FRAME_BOUNDS`` is the visible frame in physical pixels,
and a minimised window is parked at (-32000, -32000).
"""

from __future__ import annotations

from PIL import Image

from agent.annotate.model import parse_mark
from agent.annotate.render import premultiplied_bgra, render
from agent.screen.hidden import Rect
from agent.screen.window_frames import (
    HiddenWindowTable,
    TopLevel,
    frame_rect,
    is_minimized_rect,
    listing,
    rect_from_ltrb,
)

SECRET = frozenset({"Bank statement"})


def test_a_win32_rect_is_left_top_right_bottom_with_exclusive_edges() -> None:
    assert rect_from_ltrb(100, 50, 900, 650) == Rect(100, 50, 800, 600)
    assert rect_from_ltrb(-1920, 0, 0, 1080) == Rect(-1920, 0, 1920, 1080)  # a monitor left of the primary
    assert rect_from_ltrb(10, 10, 5, 5).empty


def test_the_visible_dwm_frame_is_used_inside_the_invisible_borders() -> None:
    # Windows 10 at 100 %: GetWindowRect (93, 100)-(907, 707), the frame 7 px in on three sides.
    window = rect_from_ltrb(93, 100, 907, 707)
    frame = rect_from_ltrb(100, 100, 900, 700)
    assert frame_rect(window, frame) == frame


def test_without_dwm_the_window_rectangle_is_used() -> None:
    window = Rect(100, 150, 308, 227)
    assert frame_rect(window, None) == window  # Wine, Windows 7 classic: DWM does not answer
    assert frame_rect(window, Rect(0, 0, 0, 0)) == window


def test_a_frame_outside_the_window_rectangle_hides_both() -> None:
    # A process that is not DPI aware at 150 %: GetWindowRect virtualised, DWM physical.
    window = rect_from_ltrb(100, 100, 900, 700)
    frame = rect_from_ltrb(150, 150, 1350, 1050)
    assert frame_rect(window, frame) == rect_from_ltrb(100, 100, 1350, 1050)


def test_a_minimised_window_is_neither_hidden_nor_listed() -> None:
    parked = rect_from_ltrb(-32000, -32000, -31840, -31972)
    assert is_minimized_rect(parked)
    assert not is_minimized_rect(Rect(-1920, 0, 800, 600))
    table = HiddenWindowTable()
    windows = [TopLevel(1, "Bank statement", parked, minimized=True)]
    table.begin(SECRET, windows)
    assert table.end(SECRET, windows) == []
    assert listing(windows) == []


def test_a_hidden_window_is_filled_where_it_was_where_it_went_and_in_between() -> None:
    table = HiddenWindowTable()
    before = [TopLevel(7, "Bank statement", Rect(100, 100, 300, 200)), TopLevel(8, "Notes", Rect(0, 0, 50, 50))]
    after = [TopLevel(7, "Bank statement", Rect(500, 400, 300, 200)), TopLevel(8, "Notes", Rect(0, 0, 50, 50))]
    table.begin(SECRET, before)
    assert table.end(SECRET, after) == [Rect(100, 100, 300, 200), Rect(500, 400, 300, 200),
                                        Rect(100, 100, 700, 500)]
    table.begin(SECRET, after)
    assert table.end(SECRET, after) == [Rect(500, 400, 300, 200)]


def test_a_matched_window_stays_hidden_when_its_title_changes_until_it_is_gone() -> None:
    table = HiddenWindowTable()
    table.begin(SECRET, [TopLevel(7, "Bank statement", Rect(0, 0, 10, 10))])
    renamed = [TopLevel(7, "Bank statement - 2 new", Rect(0, 0, 10, 10))]
    assert table.end(SECRET, renamed) == [Rect(0, 0, 10, 10)]
    table.begin(SECRET, renamed)
    assert table.end(SECRET, renamed) == [Rect(0, 0, 10, 10)]
    # The window closed and Windows gave its handle to another window: no longer hidden.
    table.begin(SECRET, [])
    assert table.end(SECRET, [TopLevel(7, "Calculator", Rect(0, 0, 10, 10))]) == []


def test_a_window_titled_during_the_capture_is_filled_and_unhiding_forgets_it() -> None:
    table = HiddenWindowTable()
    table.begin(SECRET, [TopLevel(7, "Loading…", Rect(0, 0, 10, 10))])
    assert table.end(SECRET, [TopLevel(7, "Bank statement", Rect(0, 0, 10, 10))]) == [Rect(0, 0, 10, 10)]
    table.begin(frozenset(), [TopLevel(7, "Bank statement x", Rect(0, 0, 10, 10))])
    assert table.end(frozenset(), [TopLevel(7, "Bank statement x", Rect(0, 0, 10, 10))]) == []


def test_a_cloaked_window_is_filled_but_not_offered_in_the_picker() -> None:
    cloaked = TopLevel(7, "Bank statement", Rect(0, 0, 10, 10), cloaked=True)
    untitled = TopLevel(9, "", Rect(0, 0, 10, 10))  # the marks overlay has no title
    shown = TopLevel(8, "Notes", Rect(5, 5, 20, 20))
    table = HiddenWindowTable()
    table.begin(SECRET, [cloaked])
    assert table.end(SECRET, [cloaked]) == [Rect(0, 0, 10, 10)]
    assert listing([cloaked, untitled, shown]) == [{"title": "Notes", "x": 5, "y": 5, "w": 20, "h": 20}]


def test_the_layered_window_picture_is_premultiplied_bgra_transparent_outside_the_marks() -> None:
    mark = parse_mark({"tool": "rect", "points": [[10, 10], [40, 40]], "colour": "#e53935", "width": 4})
    rendering = render([mark], Rect(0, 0, 100, 100))
    assert rendering is not None
    data = premultiplied_bgra(rendering)
    area = rendering.area
    assert len(data) == area.w * area.h * 4
    picture = Image.frombytes("RGBA", (area.w, area.h), data)  # bytes are B, G, R, A
    edge = picture.getpixel((10 - area.x, 25 - area.y))
    centre = picture.getpixel((25 - area.x, 25 - area.y))
    assert edge == (0x35, 0x39, 0xE5, 255)
    assert centre == (0, 0, 0, 0)
