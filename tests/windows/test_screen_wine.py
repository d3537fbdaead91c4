"""The screen (T1, C4) and the marks (T5) of the Windows agent, under Wine, through the Linux relay.

The download's agent runs under Wine with ``--hide-window "Bank statement"``; a second Windows
program (:mod:`tests.windows.screen_target`, the download's python.exe with Tk) shows a green
full-screen window and, above it, a blue window with that title, which it moves with
``SetWindowPos`` when told.  The technician's ``s.screenshot()`` goes through the relay; ImageMagick's
``import -window root`` reads the Xvfb independently, and xdotool clicks on it.

What this proves under Wine: mss capture of the screen, ``EnumWindows`` tracking by title,
the hidden window's frame (``GetWindowRect``) filled exactly, and followed when it moves, the
old place visible again; the layered, topmost, click-through overlay drawn with
``UpdateLayeredWindow`` (seen on the X screen, a click on a mark reaches the window under it).

What Wine cannot prove (held by tests/test_screen_windows_frames.py from the documented
values instead): DWM frames (Wine's ``DwmGetWindowAttribute`` does not answer, so
``DWMWA_EXTENDED_FRAME_BOUNDS`` and ``DWMWA_CLOAKED`` are never exercised here), DPI scaling
(Wine runs at 96 dpi), several monitors (Wine on one Xvfb screen has one), and whether a real
DWM composes the layered window and ``CAPTUREBLT`` picks it up as Windows does.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from websockets.sync.client import connect as ws_connect

from agent.screen.decode import Canvas, read_frame
from agent.screen.hidden import FILL_BGRA, Rect
from tests.e2e.x11tools import need, run_x, screenshot
from tests.windows.wine import WineHost, windows_path
from wire import protocol
from workbench import connect
from workbench.lab import Proc

TITLE = "Bank statement"
TARGET = Path(__file__).with_name("screen_target.py")
GREEN = (0x2E, 0x7D, 0x32)
BLUE = (0x15, 0x65, 0xC0)
RED = (0xE5, 0x39, 0x35)
FILL = FILL_BGRA[2::-1]  # B, G, R, X -> R, G, B
RECT_LINE = r"(-?\d+) (-?\d+) (\d+) (\d+)"
#: Per channel, in the live view (JPEG is lossy until the lossless refresh).
TOLERANCE = 12


@pytest.fixture
def target(wine_host: WineHost, tmp_path: Path) -> Iterator[tuple[Proc, Rect, Path]]:
    """The Windows program with the window to hide; its frame as Win32 reports it; its command file."""
    command = tmp_path / "move.txt"
    proc = Proc(["timeout", "300", "wine", str(wine_host.python), windows_path(TARGET), TITLE, "200", "300",
                 windows_path(command)], env=wine_host.env(), name="target.exe")
    try:
        yield proc, _rect(proc.wait_for(rf"READY {RECT_LINE}", timeout=90)), command
    finally:
        proc.stop()


def _rect(match: re.Match[str]) -> Rect:
    return Rect(*(int(value) for value in match.groups()))


def _move(proc: Proc, command: Path, x: int, y: int) -> Rect:
    staged = command.with_suffix(".tmp")
    staged.write_text(f"{x} {y}")
    os.replace(staged, command)  # the program sees the whole command or none
    return _rect(proc.wait_for(rf"MOVED {RECT_LINE}", timeout=30))


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _all(pixels: np.ndarray, rect: Rect, colour: tuple[int, int, int]) -> bool:
    return bool(np.all(pixels[rect.y:rect.bottom, rect.x:rect.right] == colour))


def _count(pixels: np.ndarray, colour: tuple[int, int, int]) -> int:
    return int(np.all(pixels == colour, axis=2).sum())


def _inner(rect: Rect, inset: int = 30) -> Rect:
    """Well inside *rect*: without a window manager, Wine leaves the frame (caption, borders) undrawn."""
    return Rect(rect.x + inset, rect.y + inset, rect.w - 2 * inset, rect.h - 2 * inset)


class LiveView:
    """A viewer on the relay (docs/screen-protocol.md), the live view's wire: decodes and acks every frame,
    and counts pixels of the hidden window's colour in every rectangle it receives."""

    def __init__(self, url: str, session_id: str, token: str) -> None:
        self.canvas = Canvas()
        self.leaks = 0
        self.frames = 0
        self.error: BaseException | None = None
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url, session_id, token), daemon=True)
        self._thread.start()

    def _run(self, url: str, session_id: str, token: str) -> None:
        try:
            with ws_connect(url, max_size=None, compression=None, open_timeout=20) as ws:
                ws.send(protocol.encode(protocol.Message("hello", {
                    "role": "viewer", "session_id": session_id, "token": token})))
                assert protocol.decode(ws.recv(timeout=20)).type == "welcome"
                while not self._stop.is_set():
                    try:
                        message = protocol.decode(ws.recv(timeout=0.2))
                    except TimeoutError:
                        continue
                    if message.type != "event" or message["name"] != "screen.frame":
                        continue
                    body, payload = read_frame(message["body"], message.data or b"", self.canvas.stream)
                    with self._changed:
                        for _, pixels in self.canvas.apply(body, payload):
                            self.leaks += _near(pixels, BLUE)
                        self.frames += 1
                        self._changed.notify_all()
                    ws.send(protocol.encode(protocol.event("screen.ack", {"seq": body["seq"]})))
        except BaseException as err:
            self.error = err
            with self._changed:
                self._changed.notify_all()

    def wait_until(self, shows: Callable[[np.ndarray], bool], what: str, timeout: float = 60) -> None:
        """Wait for a frame after which the picture *shows* what is wanted (checked at each frame)."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.error is not None or (
                    self.frames > 0 and shows(self.canvas.pixels)), timeout):
                raise AssertionError(f"the live view never showed {what} ({self.frames} frames)")
        if self.error is not None:
            raise AssertionError(f"the live view failed: {self.error!r}") from self.error

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(20)


def _near(pixels: Any, colour: tuple[int, int, int]) -> int:
    return int(np.all(np.abs(pixels.astype(np.int16) - colour) <= TOLERANCE, axis=-1).sum())


def _looks(pixels: np.ndarray, rect: Rect, colour: tuple[int, int, int]) -> bool:
    area = pixels[rect.y:rect.bottom, rect.x:rect.right]
    return area.size > 0 and _near(area, colour) == rect.w * rect.h


def test_a_hidden_window_is_filled_and_followed_as_it_moves(
        wine_host: WineHost, relay: tuple[Proc, str, Path], procs: list[Proc], tmp_path: Path,
        target: tuple[Proc, Rect, Path]) -> None:
    need("import", "imagemagick")
    proc, frame, command = target
    _, url, _ = relay
    agent, code = wine_host.start_agent(url, tmp_path / "agent", "--hide-window", TITLE)
    procs.append(agent)
    s = connect(code, relay=url, name="Alice")
    display = wine_host.xvfb.display
    live = LiveView(url, s.session_id, str(s.call("relay.viewer_token").value["token"]))

    on_x = _pixels(screenshot(display, tmp_path / "x-before.png"))
    assert _all(on_x, _inner(frame), BLUE), "the window to hide is not on the X screen: the test proves nothing"
    seen = _pixels(s.screenshot())
    assert _all(seen, frame, FILL), "the hidden window's frame is not filled in the technician's picture"
    assert _count(seen, BLUE) == 0
    # Exactly its frame: the green around it is the technician's to see.
    assert seen[frame.y + 10, frame.x - 2].tolist() == list(GREEN)
    assert seen[frame.bottom + 1, frame.x + 10].tolist() == list(GREEN)
    live.wait_until(lambda p: _looks(p, frame, FILL) and _looks(p, Rect(frame.right + 2, frame.y, 10, 10), GREEN),
                    "the hidden window filled")

    moved = _move(proc, command, 700, 150)
    assert moved.intersect(frame).empty
    on_x = _pixels(screenshot(display, tmp_path / "x-after.png"))
    assert _all(on_x, _inner(moved), BLUE) and _all(on_x, _inner(frame), GREEN)
    seen = _pixels(s.screenshot())
    assert _all(seen, moved, FILL), "the hidden window was not followed to where it moved"
    assert _all(seen, _inner(frame), GREEN), "where the window was is not visible again"
    assert _count(seen, BLUE) == 0
    live.wait_until(lambda p: _looks(p, moved, FILL) and _looks(p, _inner(frame), GREEN),
                    "the hidden window filled where it went, and visible again where it was")
    live.stop()
    assert live.leaks == 0, "a frame of the live view showed the hidden window's pixels"

    s.close()
    assert agent.wait(60) == 0


def test_a_mark_is_drawn_on_the_screen_and_clicks_go_through_it(
        wine_host: WineHost, relay: tuple[Proc, str, Path], procs: list[Proc], tmp_path: Path,
        target: tuple[Proc, Rect, Path]) -> None:
    need("import", "imagemagick")
    need("xdotool", "xdotool")
    proc, _, _ = target
    _, url, _ = relay
    agent, code = wine_host.start_agent(url, tmp_path / "agent")
    procs.append(agent)
    s = connect(code, relay=url, name="Alice")
    display = wine_host.xvfb.display
    box = Rect(800, 500, 200, 150)

    s.annotate.rect(box.x, box.y, box.right, box.bottom, colour="red", width=10)
    assert s.annotate.list()[0]["tool"] == "rect"
    on_x = _pixels(screenshot(display, tmp_path / "marked.png"))
    edge = (box.x + 2, box.y + box.h // 2)  # on the left side of the outline
    assert on_x[edge[1], edge[0]].tolist() == list(RED), "the mark is not on the X screen"
    assert _all(on_x, _inner(box), GREEN), "the overlay covers more than its marks"
    assert _count(_pixels(s.screenshot()), RED) > 0, "the agent's own capture does not see the mark"

    run_x(display, "xdotool", "mousemove", str(edge[0]), str(edge[1]), "click", "1")
    clicked = proc.wait_for(r"CLICK (-?\d+) (-?\d+) 1", timeout=30)
    assert (int(clicked.group(1)), int(clicked.group(2))) == edge, "the click did not go through the mark"

    assert s.annotate.clear() == 1
    on_x = _pixels(screenshot(display, tmp_path / "cleared.png"))
    assert on_x[edge[1], edge[0]].tolist() == list(GREEN), "the mark stayed on screen after clear()"
    s.close()
    assert agent.wait(60) == 0


def test_the_window_picker_lists_the_customers_windows(wine_host: WineHost,
                                                        target: tuple[Proc, Rect, Path]) -> None:
    """What the customer's "hide a window" picker gets (``ScreenService.list_windows``'s seam)."""
    _, frame, _ = target
    done = wine_host.run_python("-c", "import json; from agent.screen.tracking import list_windows; "
                                      "print('WINDOWS', json.dumps(list_windows(None)))", timeout=90)
    match = re.search(r"^WINDOWS (.*)$", done.stdout, re.MULTILINE)
    assert match, done.stdout
    listed = json.loads(match.group(1))
    assert {"title": TITLE, **frame.to_dict()} in listed
    assert any(window["title"] == "under the marks" for window in listed)
    assert all(window["title"] for window in listed)  # untitled windows (the marks overlay) are left out
