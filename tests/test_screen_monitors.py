"""A stream's monitor and its frames never disagree (issue 14, finding 9), on a two-monitor Xvfb.

The view asks for the second monitor while the agent's worker is still opening its first
stream (the first capture setup of a fresh agent): the request must win, and every frame must
say the monitor and origin of the pixels it carries.  The race is made certain rather than
likely: the request is sent from inside the worker's own ``screen.info`` of the first stream,
i.e. after the worker read what to stream and before it finished setting up.  Frames are
decoded as a viewer would and their pixels compared with what is on each monitor.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.screen import HiddenRegions
from agent.screen.decode import Canvas, read_frame
from agent.screen.streamer import Streamer
from tests.two_monitors import MONITOR, MONITORS, two_monitor_xvfb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import screen_x

pytestmark = [pytest.mark.needs("Xvfb", "xvfb"), pytest.mark.needs("xrandr", "x11-xserver-utils")]

#: A colour only the painter on the right monitor has (the root window is black).
RIGHT_COLOUR = (0x13, 0xE7, 0x5B)
#: The painter's place on the virtual screen: well inside the right monitor.
PAINTER_BOX = (MONITOR[0] + 200, 150, 300, 200)


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    with two_monitor_xvfb() as name:
        x, y, w, h = PAINTER_BOX
        fill = "#" + "".join(f"{c:02x}" for c in RIGHT_COLOUR)
        painter = screen_x.Painter(name, "--title", "right-monitor", "--fill", fill, "--geometry", f"{w}x{h}+{x}+{y}")
        try:
            yield name
        finally:
            painter.close()


class Recorder:
    """The streamer's emit: every event in order, frames decoded, every frame acked."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.canvas = Canvas()
        self.streamer: Streamer | None = None
        self.on_first_info: Callable[[], None] | None = None
        self._cond = threading.Condition()

    def emit(self, name: str, body: dict[str, Any], data: bytes | None) -> None:
        with self._cond:
            if name == "screen.frame":  # kept as format 1's body: what every reader turns a frame into
                assert data is not None
                body, data = read_frame(body, data, self.canvas.stream)
                self.canvas.apply(body, data)
            self.events.append((name, body))
            self._cond.notify_all()
        if name == "screen.info" and self.on_first_info is not None:
            hook, self.on_first_info = self.on_first_info, None
            hook()
        if name == "screen.frame" and self.streamer is not None:
            self.streamer.ack(body["seq"], "v1")

    def frames(self) -> list[dict[str, Any]]:
        with self._cond:
            return [body for name, body in self.events if name == "screen.frame"]

    def until(self, condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}; events: "
                                         f"{[(n, b.get('monitor', b.get('stream'))) for n, b in self.events]}")
                self._cond.wait(left)


def agrees(frame: dict[str, Any]) -> bool:
    """The frame's size and origin are those of the monitor it names."""
    if frame["monitor"] == "all":
        return (frame["width"], frame["height"], frame["x"], frame["y"]) == (2 * MONITOR[0], MONITOR[1], 0, 0)
    x, y, w, h = MONITORS[frame["monitor"]]
    return (frame["width"], frame["height"], frame["x"], frame["y"]) == (w, h, x, y)


def test_a_monitor_chosen_during_the_first_setup_is_what_the_frames_show(display: str) -> None:
    recorder = Recorder()
    streamer = Streamer(HiddenRegions(), recorder.emit, display)
    recorder.streamer = streamer
    # Sent from the worker thread, inside the first stream's setup (it streams "all" by default).
    recorder.on_first_info = lambda: streamer.configure(1, None, True, "v1")
    streamer.start()
    try:
        streamer.set_viewers(1, ["v1"])
        recorder.until(lambda: any(f["monitor"] == 1 for f in recorder.frames()), "a frame of monitor 1")
        frames = recorder.frames()
        assert all(agrees(frame) for frame in frames), [
            (f["monitor"], f["width"], f.get("x")) for f in frames]
        first_right = next(f for f in frames if f["monitor"] == 1)
        assert first_right["key"], "a new monitor starts with a key frame"
        infos = [body["stream"] for name, body in recorder.events if name == "screen.info"]
        assert infos[-1]["monitor"] == 1 and (infos[-1]["x"], infos[-1]["width"]) == (MONITOR[0], MONITOR[0])
        # What the viewer draws for monitor 1 is the right monitor: the painter at its local place.
        recorder.until(lambda: recorder.canvas.pixels.shape[:2] == (MONITOR[1], MONITOR[0]), "a 1920-wide canvas")
        x, y, w, h = PAINTER_BOX
        local = recorder.canvas.pixels[y + 10 : y + h - 10, x - MONITOR[0] + 10 : x - MONITOR[0] + w - 10, :3]
        assert np.all(np.abs(local.astype(int) - RIGHT_COLOUR) <= 8)
    finally:
        streamer.stop()


def test_every_frame_names_the_monitor_it_shows_while_the_view_switches(display: str) -> None:
    recorder = Recorder()
    streamer = Streamer(HiddenRegions(), recorder.emit, display)
    recorder.streamer = streamer
    streamer.start()
    try:
        streamer.set_viewers(1, ["v1"])
        for monitor in (1, 0, "all", 1, 0, 1):
            seen = len(recorder.frames())
            streamer.configure(monitor, None, True, "v1")
            recorder.until(lambda m=monitor, s=seen: any(f["monitor"] == m for f in recorder.frames()[s:]),
                           f"a frame of {monitor}")
        frames = recorder.frames()
        assert all(agrees(frame) for frame in frames)
    finally:
        streamer.stop()


def test_a_hidden_monitor_is_filled_in_frames_and_screenshots(display: str) -> None:
    """``--hide-monitor 1`` / the window's choice: monitor 1's pixels never leave, monitor 0's do."""
    from agent.screen.hidden import FILL_BGRA
    from agent.screen.streamer import take_screenshot

    fill = FILL_BGRA[2::-1]
    hidden = HiddenRegions()
    hidden.add_monitor(1)
    recorder = Recorder()
    streamer = Streamer(hidden, recorder.emit, display)
    recorder.streamer = streamer
    streamer.start()
    try:
        streamer.set_viewers(1, ["v1"])
        recorder.until(lambda: any(f["monitor"] == "all" for f in recorder.frames()), "a frame of all")
        frame = next(f for f in recorder.frames() if f["monitor"] == "all")
        assert {"x": MONITOR[0], "y": 0, "w": MONITOR[0], "h": MONITOR[1], "label": "Hidden by the customer"} \
            in frame["hidden"]
        pixels = recorder.canvas.pixels
        assert np.all(pixels[:, MONITOR[0]:, :3] == fill)  # the painter on the right never shows
        assert not np.any(np.all(pixels[:, : MONITOR[0], :3] == fill, axis=-1))  # the left is not filled
        seen = len(recorder.frames())
        streamer.configure(1, None, True, "v1")
        recorder.until(lambda: any(f["monitor"] == 1 for f in recorder.frames()[seen:]), "a frame of monitor 1")
        right = next(f for f in recorder.frames()[seen:] if f["monitor"] == 1)
        assert right["hidden"] == [{"x": 0, "y": 0, "w": MONITOR[0], "h": MONITOR[1],
                                    "label": "Hidden by the customer"}]
        assert np.all(recorder.canvas.pixels[:, :, :3] == fill)
    finally:
        streamer.stop()
    # Screenshots of everything and of each monitor.
    from io import BytesIO

    from PIL import Image

    for monitor, size, filled in (("all", (2 * MONITOR[0], MONITOR[1]), [(MONITOR[0], 0, *MONITOR)]),
                                  (1, MONITOR, [(0, 0, *MONITOR)]), (0, MONITOR, [])):
        data, description = take_screenshot(hidden, display, monitor)
        with Image.open(BytesIO(data)) as image:
            shot = np.asarray(image.convert("RGB"))
        assert (shot.shape[1], shot.shape[0]) == size
        assert [(r["x"], r["y"], r["w"], r["h"]) for r in description["hidden"]] == filled
        for x, y, w, h in filled:
            assert np.all(shot[y : y + h, x : x + w] == fill)
        if not filled:
            assert not np.any(np.all(shot == fill, axis=-1))
