"""The program on the X screen for the click benchmark: one window that timestamps every button press.

``python bench/control_receiver.py --display :N [--geometry WxH+X+Y]`` maps a plain
window (python-xlib, no toolkit), prints ``ready X Y W H`` once it is viewable, then
one line per ButtonPress it receives::

    press BUTTON ROOT_X ROOT_Y WALL_NS MONO_NS XTIME_MS

*WALL_NS* is ``time.time_ns()`` and *MONO_NS* ``time.monotonic_ns()``, both read as
soon as the event is read from the X connection; *XTIME_MS* is the X server's time
stamp of the event (Xvfb: milliseconds of ``CLOCK_MONOTONIC``, 32 bits), which
tells the delay until the server processed the event apart from the delay until
this program read it.  Runs until terminated.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import Xlib.display
from Xlib import X


def parse_geometry(text: str) -> tuple[int, int, int, int]:
    """``"WxH+X+Y"`` → (x, y, w, h)."""
    size, _, rest = text.partition("+")
    width, height = (int(v) for v in size.split("x"))
    x, y = (int(v) for v in rest.split("+"))
    return x, y, width, height


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--display", required=True)
    parser.add_argument("--geometry", type=parse_geometry, default=None, help="WxH+X+Y (default: the whole screen)")
    args = parser.parse_args()
    display: Any = Xlib.display.Display(args.display)
    screen = display.screen()
    x, y, width, height = args.geometry or (0, 0, screen.width_in_pixels, screen.height_in_pixels)
    window = screen.root.create_window(
        x, y, width, height, 0, screen.root_depth, X.InputOutput, X.CopyFromParent,
        background_pixel=screen.white_pixel, override_redirect=True,
        event_mask=X.ButtonPressMask | X.ButtonReleaseMask | X.StructureNotifyMask)
    window.set_wm_name("bench click receiver")
    window.map()
    display.sync()
    out = sys.stdout
    while True:
        event = display.next_event()  # blocks reading the X connection
        wall, mono = time.time_ns(), time.monotonic_ns()
        if event.type == X.ButtonPress:
            out.write(f"press {event.detail} {event.root_x} {event.root_y} {wall} {mono} {event.time}\n")
            out.flush()
        elif event.type == X.MapNotify:
            out.write(f"ready {x} {y} {width} {height}\n")
            out.flush()


if __name__ == "__main__":
    main()
