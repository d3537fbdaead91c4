"""DAMAGE on a real X server tells the streamer where drawing happened (what it then reads alone).

An Xlib client draws a rectangle into its own window on Xvfb; :meth:`X11Watcher.rearm` must
return a box (root coordinates) that holds it, an empty box when nothing was drawn since, and
a capture of that box alone, patched into the pipeline, must give the frame a whole capture gives.
"""

from __future__ import annotations

import select
from collections.abc import Iterator

import pytest
import Xlib.display

from agent.screen._x11 import X11Watcher
from agent.screen.capture import Capturer
from agent.screen.hidden import Rect
from agent.screen.pipeline import FramePipeline
from workbench.lab import Xvfb

pytestmark = [pytest.mark.e2e, pytest.mark.needs("Xvfb", "xvfb")]

WINDOW = Rect(100, 80, 300, 200)


@pytest.fixture(scope="module")
def xvfb() -> Iterator[Xvfb]:
    server = Xvfb(640, 480)
    try:
        yield server
    finally:
        server.stop()


def test_rearm_returns_the_box_of_what_was_drawn_and_a_patch_of_it_equals_a_whole_capture(xvfb: Xvfb) -> None:
    client = Xlib.display.Display(xvfb.display)
    watcher = X11Watcher(xvfb.display)
    capturer = Capturer(xvfb.display)
    try:
        assert watcher.has_damage
        screen = client.screen()
        window = screen.root.create_window(WINDOW.x, WINDOW.y, WINDOW.w, WINDOW.h, 0, screen.root_depth,
                                           background_pixel=screen.white_pixel, override_redirect=True)
        window.map()
        client.sync()
        area = capturer.virtual_screen()
        pipeline = FramePipeline(area.w, area.h)
        watcher.poll()
        assert watcher.rearm() is None  # nothing known before the first capture: read everything
        pipeline.current = capturer.grab(area)
        pipeline.produce(0.0, 0.0, key=True)
        gc = window.create_gc(foreground=screen.black_pixel)
        window.fill_rectangle(gc, 20, 30, 12, 13)  # a glyph's worth, at (120, 110) on the root
        client.sync()
        watcher.poll()
        while not watcher.damaged:  # the report comes on the watcher's connection
            ready, _, _ = select.select([watcher], [], [], 10.0)
            assert ready, "no DAMAGE report within 10 s"
            watcher.poll()
        drawn = watcher.rearm()
        assert drawn is not None and not drawn.empty
        assert drawn.intersect(Rect(120, 110, 12, 13)) == Rect(120, 110, 12, 13)
        assert drawn.w * drawn.h <= WINDOW.w * WINDOW.h  # the drawing, not the screen
        pipeline.patch(drawn, capturer.grab(drawn))
        whole = capturer.grab(area)
        assert (pipeline.current == whole).all()
        frame = pipeline.produce(1.0, 0.0)
        assert frame is not None and [r["codec"] for r in frame.rects] in (["pal"], ["fill"])
        watcher.poll()
        assert watcher.rearm() == Rect(0, 0, 0, 0)  # nothing drawn since
    finally:
        capturer.close()
        watcher.close()
        client.close()
