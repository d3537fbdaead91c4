"""The marks overlay on a real X server: seen where the marks are, clicked through, gone when closed.

A private Xvfb; under the overlay, a small Tk program of ours fills the screen with one colour and
prints every click it receives.  From outside, ImageMagick (``import -window root``) takes the
screenshots and xdotool clicks, so what is checked is what the X server shows and delivers.
The agent's own capture (mss, the live stream's) must see the marks too: that is how the
technician sees each mark, once.
"""

from __future__ import annotations

import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agent.annotate import parse_mark
from agent.annotate._x11 import WM_CLASS, X11Overlay
from agent.screen._x11 import X11Watcher
from agent.screen.capture import Capturer
from agent.screen.hidden import Rect
from tests.e2e.x11tools import need, run_x, screenshot
from workbench.lab import Proc, Xvfb, python_env

pytestmark = pytest.mark.e2e

SIZE = (640, 480)
BACKGROUND = (0x2E, 0x7D, 0x32)  # the Tk program's colour
RED = (0xE5, 0x39, 0x35)
YELLOW = (0xFD, 0xD8, 0x35)
WAIT = 30.0

#: Fills the screen with BACKGROUND and reports each click it receives (root coordinates, button).
BELOW = textwrap.dedent("""
    import tkinter as tk
    root = tk.Tk()
    root.title("under the marks")
    root.geometry("%dx%d+0+0")
    root.configure(background="#2e7d32", highlightthickness=0)
    root.bind("<ButtonPress>", lambda e: print("CLICK", e.x_root, e.y_root, e.num, flush=True))
    def ready():
        root.update_idletasks()
        print("READY", flush=True)
    root.after(200, ready)
    root.mainloop()
""") % SIZE

#: An agent stand-in: an overlay showing one mark, until this process is killed.
HOLDER = textwrap.dedent("""
    import threading
    from agent.annotate import parse_mark
    from agent.annotate._x11 import X11Overlay
    overlay = X11Overlay()
    overlay.show([parse_mark({"tool": "rect", "points": [[300, 300], [400, 400]], "width": 10})])
    print("SHOWN", flush=True)
    threading.Event().wait()
""")


@pytest.fixture(scope="module")
def xvfb() -> Iterator[Xvfb]:
    need("xdotool", "xdotool")
    need("import", "imagemagick")
    need("Xvfb", "xvfb")
    server = Xvfb(*SIZE)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def below(xvfb: Xvfb) -> Iterator[tuple[Proc, str]]:
    """The Tk program under the overlay, and its top-level window id."""
    proc = Proc([sys.executable, "-c", BELOW], env=xvfb.env(), name="below")
    try:
        proc.wait_for("READY", timeout=WAIT)
        yield proc, run_x(xvfb.display, "xdotool", "search", "--name", "^under the marks$").split()[0]
    finally:
        proc.stop()


@pytest.fixture
def overlay(xvfb: Xvfb, below: tuple[Proc, str]) -> Iterator[X11Overlay]:
    made = X11Overlay(xvfb.display)
    try:
        yield made
    finally:
        made.close()


def shot(xvfb: Xvfb, tmp_path: Path) -> Image.Image:
    return screenshot(xvfb.display, tmp_path / "screen.png")


def wait_pixel(xvfb: Xvfb, tmp_path: Path, point: tuple[int, int], colour: tuple[int, int, int],
               what: str) -> Image.Image:
    """Screenshots until *point* shows *colour* (bounded); returns the last one."""
    deadline = time.monotonic() + WAIT
    while True:
        image = shot(xvfb, tmp_path)
        if image.getpixel(point) == colour:
            return image
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: {point} is {image.getpixel(point)}, not {colour}")
        time.sleep(0.1)


def test_marks_show_only_where_they_are_and_go_when_closed(xvfb: Xvfb, below: tuple[Proc, str],
                                                           overlay: X11Overlay, tmp_path: Path) -> None:
    before = shot(xvfb, tmp_path)
    assert before.getpixel((102, 150)) == BACKGROUND
    rect = parse_mark({"tool": "rect", "points": [[100, 100], [300, 200]], "width": 6})
    stroke = parse_mark({"tool": "highlighter", "points": [[50, 300], [500, 300]], "colour": "#fdd835"})
    label = parse_mark({"tool": "text", "points": [[350, 40]], "text": "Click here", "colour": "#1e88e5"})
    overlay.show([rect, stroke, label])

    image = shot(xvfb, tmp_path)
    assert image.getpixel((100, 150)) == RED and image.getpixel((105, 150)) == RED  # the 6 px edge
    assert image.getpixel((300, 100)) == RED
    assert image.getpixel((200, 150)) == BACKGROUND  # inside the rectangle: the program under it
    assert image.getpixel((106, 150)) == BACKGROUND
    # The highlighter: a checkerboard of its colour and what is under it.
    row = [image.getpixel((x, 300)) for x in range(200, 210)]
    assert row == [YELLOW if (x + 300) % 2 == 0 else BACKGROUND for x in range(200, 210)]
    assert image.getpixel((352, 42)) == (0x1E, 0x88, 0xE5)  # the label's box
    changed = np.argwhere(np.any(np.asarray(image) != np.asarray(before), axis=2))
    assert changed.size and changed[:, 1].min() >= 50 - 20 and changed[:, 0].max() <= 300 + 20

    # The live stream's own capture sees the marks: the technician sees them in the stream.
    capturer = Capturer(xvfb.display)
    try:
        frame = capturer.grab(Rect(0, 0, *SIZE))
        blue, green, red = (int(frame[150, 100]) >> shift & 0xFF for shift in (0, 8, 16))
        assert (red, green, blue) == RED
    finally:
        capturer.close()

    # Fewer marks: what was removed shows the program again.
    overlay.show([label])
    image = shot(xvfb, tmp_path)
    assert image.getpixel((102, 150)) == BACKGROUND and image.getpixel((200, 300)) == BACKGROUND
    assert image.getpixel((352, 42)) == (0x1E, 0x88, 0xE5)

    overlay.show([rect])
    overlay.close()
    overlay.close()
    image = shot(xvfb, tmp_path)
    assert image.getpixel((102, 150)) == BACKGROUND and image.getpixel((352, 42)) == BACKGROUND
    assert np.array_equal(np.asarray(image), np.asarray(before))


def test_clicks_go_through_a_mark_to_the_program_under_it(xvfb: Xvfb, below: tuple[Proc, str],
                                                          overlay: X11Overlay, tmp_path: Path) -> None:
    proc, _ = below
    overlay.show([parse_mark({"tool": "rect", "points": [[100, 100], [300, 200]], "width": 12})])
    assert shot(xvfb, tmp_path).getpixel((104, 150)) == RED
    for button in (1, 3):
        run_x(xvfb.display, "xdotool", "mousemove", "--sync", "104", "150", "click", str(button))
        found = proc.wait_for(r"CLICK (\d+) (\d+) (\d+)", timeout=WAIT)
        assert found.groups() == ("104", "150", str(button))


def test_the_overlay_stays_on_top_and_out_of_the_window_list(xvfb: Xvfb, below: tuple[Proc, str],
                                                              overlay: X11Overlay, tmp_path: Path) -> None:
    _, window = below
    watcher = X11Watcher(xvfb.display, use_damage=False)  # what the customer's "hide a window" picker lists
    try:
        listed = watcher.windows()
        overlay.show([parse_mark({"tool": "arrow", "points": [[400, 400], [500, 420]], "width": 8})])
        assert watcher.windows() == listed  # no title: the customer cannot hide (all of) the screen by mistake
    finally:
        watcher.close()
    assert shot(xvfb, tmp_path).getpixel((450, 410)) == RED
    run_x(xvfb.display, "xdotool", "windowraise", window)  # the program comes to the front
    wait_pixel(xvfb, tmp_path, (450, 410), RED, "the mark after another window was raised")
    names = run_x(xvfb.display, "xdotool", "search", "--classname", WM_CLASS[0]).split()
    assert names == [str(overlay.window_id)]


def test_the_overlay_dies_with_its_process(xvfb: Xvfb, below: tuple[Proc, str], tmp_path: Path) -> None:
    holder = Proc([sys.executable, "-c", HOLDER], env=python_env(DISPLAY=xvfb.display), name="holder")
    try:
        holder.wait_for("SHOWN", timeout=WAIT)
        assert shot(xvfb, tmp_path).getpixel((302, 350)) == RED
    finally:
        holder.kill()  # SIGKILL: no cleanup code runs
    wait_pixel(xvfb, tmp_path, (302, 350), BACKGROUND, "the mark after its process was killed")
