"""ScreenService on a real Xvfb with real programs (xterm, a Tk painter), frames decoded like a viewer.

Each test drives the service through its public surface (``on_event``,
``send_event``, ``METHODS``) and compares what a viewer would draw with an
independent capture (ImageMagick's ``import``).  Waiting is on frames, with
timeouts, never on sleeps.
"""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from agent.dispatch import CallContext
from agent.policy import Policy
from agent.screen import FILL_BGRA, NOT_VIEWED, VIEWED, HiddenRegions, Rect, ScreenService
from agent.screen.capture import Capturer
from agent.screen.decode import Canvas, read_frame
from agent.screen.streamer import capture_masked
from wire.errors import Forbidden

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import screen_x

pytestmark = [pytest.mark.needs("Xvfb", "xvfb"), pytest.mark.needs("xterm", "xterm"),
              pytest.mark.needs("import", "imagemagick"), pytest.mark.needs("xdotool", "xdotool")]

FILL_RGB = np.array(FILL_BGRA[2::-1], dtype=np.int16)
# Colours that nothing else on the test screen has (black root, white xterm, grey fill).
SECRET_COLOURS = ("#13e75b", "#e7135b")
SECRET_RGB = [np.array([int(c[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.int16) for c in SECRET_COLOURS]


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    with screen_x.xvfb(1024, 768) as name:
        yield name


def near(pixels: np.ndarray, colour: np.ndarray, tolerance: int) -> np.ndarray:
    found: np.ndarray = np.all(np.abs(pixels.astype(np.int16) - colour) <= tolerance, axis=-1)
    return found


class Viewer:
    """A viewer on the service's send_event: decodes every frame, acks it, and checks it for secrets."""

    def __init__(self) -> None:
        self.canvas = Canvas()
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.frames = 0
        self.secret_pixels = 0
        self.service: ScreenService | None = None
        self._changed = asyncio.Condition()

    async def send_event(self, name: str, body: dict[str, Any], data: bytes | None) -> None:
        if name == "screen.frame":
            assert data is not None
            body, data = read_frame(body, data, self.canvas.stream)  # the header is binary: read as format 1
        self.events.append((name, body))
        if name == "screen.frame":
            for _rect, pixels in self.canvas.apply(body, data):
                for colour in SECRET_RGB:
                    self.secret_pixels += int(near(pixels, colour, 40).sum())
            self.frames += 1
            assert self.service is not None
            await self.service.on_event("screen.ack", {"seq": body["seq"], "viewer_id": "v1"})
        async with self._changed:
            self._changed.notify_all()

    async def until(self, condition: Callable[[], bool], timeout: float = 15.0) -> None:
        """Wait until *condition* holds after some event; fails the test on timeout."""
        async def wait() -> None:
            async with self._changed:
                await self._changed.wait_for(condition)
        await asyncio.wait_for(wait(), timeout)


def matches(canvas: Canvas, reference: np.ndarray) -> bool:
    if canvas.pixels.shape != reference.shape:
        return False
    diff = np.abs(canvas.pixels.astype(np.int16) - reference).max(axis=2)
    return bool(diff.mean() < 1.0 and (diff > 24).mean() < 0.001)


async def start(viewer: Viewer, hidden: HiddenRegions, display: str, told: list[str]) -> ScreenService:
    service = ScreenService(hidden, viewer.send_event, told.append, display=display)
    viewer.service = service
    await service.start()
    await service.on_event("relay.viewers", {"count": 1, "viewers": ["v1"]})
    return service


def call(service: ScreenService, method: str, params: dict[str, Any]) -> Any:
    handler = {m.name: m for m in service.METHODS}[method].handler
    return handler(CallContext(method, params, None, Policy(), Path(".")))


def test_stream_matches_an_independent_capture_and_stops_cleanly(display: str) -> None:
    command = ["sh", "-c", "echo hello from the screen test; exec sleep 600"]
    xterm = screen_x.start_xterm(display, "60x10+20+20", command, extra=["-T", "screen-test-xterm"])
    painter = screen_x.Painter(display, "--title", "stripes", "--geometry", "200x150+600+100",
                               "--stripes", "#ff0000,#0000ff,#ffff00")
    threads_before = set(threading.enumerate())
    fds_before = set(os.listdir("/proc/self/fd"))
    told: list[str] = []

    async def scenario() -> None:
        viewer = Viewer()
        service = await start(viewer, HiddenRegions(), display, told)
        screen_x.wait_for_window(display, "screen-test-xterm")
        try:
            for _attempt in range(5):  # the programs may still be drawing when the reference is taken
                reference = screen_x.reference_capture(display)
                try:
                    await viewer.until(lambda ref=reference: matches(viewer.canvas, ref), timeout=6)  # type: ignore[misc]
                    break
                except TimeoutError:
                    continue
            assert matches(viewer.canvas, reference)
            names = [name for name, _ in viewer.events]
            assert names.index("screen.info") < names.index("screen.frame")
            first = next(body for name, body in viewer.events if name == "screen.frame")
            assert first["key"] and first["width"] == 1024 and first["height"] == 768
            await service.on_event("relay.viewers", {"count": 0, "viewers": []})
        finally:
            await service.stop()
        assert told == [VIEWED, NOT_VIEWED]
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert others == []

    try:
        asyncio.run(scenario())
    finally:
        painter.close()
        screen_x.stop(xterm)
    assert set(threading.enumerate()) <= threads_before
    assert set(os.listdir("/proc/self/fd")) <= fds_before  # X connections, shared memory, sockets: all closed


def test_hidden_window_never_leaves_even_when_it_moves(display: str) -> None:
    title = f"secret-{uuid.uuid4().hex[:8]}"
    painter = screen_x.Painter(display, "--title", title, "--geometry", "240x160+100+100",
                               "--stripes", ",".join(SECRET_COLOURS))
    told: list[str] = []
    hidden = HiddenRegions()
    hidden.add_window(title)

    def area_is(canvas: Canvas, x: int, y: int, w: int, h: int, colour: np.ndarray) -> bool:
        return canvas.pixels.shape[0] > 0 and bool(near(canvas.pixels[y : y + h, x : x + w], colour, 6).all())

    async def scenario() -> None:
        viewer = Viewer()
        service = await start(viewer, hidden, display, told)
        try:
            window = screen_x.wait_for_window(display, title)
            await viewer.until(lambda: area_is(viewer.canvas, 100, 100, 240, 160, FILL_RGB))
            frame = next(body for name, body in reversed(viewer.events) if name == "screen.frame")
            assert {"x": 100, "y": 100, "w": 240, "h": 160, "label": "Hidden by the customer"} in frame["hidden"]
            # The customer's window moves: the mask follows, the old place shows what is behind.
            screen_x.xdotool(display, "windowmove", str(window), "500", "400")
            black = np.zeros(3, dtype=np.int16)
            await viewer.until(lambda: area_is(viewer.canvas, 500, 400, 240, 160, FILL_RGB)
                               and area_is(viewer.canvas, 100, 100, 240, 160, black))
            # A screenshot fills it too.
            reply = await asyncio.to_thread(call, service, "screen.screenshot", {})
            with Image.open(io.BytesIO(reply.data)) as image:
                shot = np.asarray(image.convert("RGB"))
            assert reply.value["width"] == 1024 and reply.value["format"] == "png"
            assert near(shot[400:560, 500:740], FILL_RGB, 0).all()
            for colour in SECRET_RGB:
                assert not near(shot, colour, 40).any()
            # Meanwhile the real screen does show the pattern (the test is not vacuous).
            reference = screen_x.reference_capture(display)
            assert near(reference[400:560, 500:740], SECRET_RGB[0], 0).any()
            assert viewer.frames >= 2
            assert viewer.secret_pixels == 0
        finally:
            await service.stop()

    try:
        asyncio.run(scenario())
    finally:
        painter.close()


def test_rect_hiding_pause_and_resume(display: str) -> None:
    painter = screen_x.Painter(display, "--title", "plain", "--geometry", "300x200+0+0", "--fill", "#ffffff")
    told: list[str] = []
    hidden = HiddenRegions()

    async def scenario() -> None:
        viewer = Viewer()
        service = await start(viewer, hidden, display, told)
        try:
            white = np.full(3, 255, dtype=np.int16)
            await viewer.until(lambda: viewer.canvas.pixels.shape[0] > 0
                               and bool(near(viewer.canvas.pixels[50:150, 50:250], white, 4).all()))
            # Hidden while viewed: the area turns to the fill, not a stale copy.
            rect_id = hidden.add_rect(40, 40, 100, 100)
            await viewer.until(lambda: bool(near(viewer.canvas.pixels[40:140, 40:140], FILL_RGB, 4).all()))
            assert ("screen.state", {"paused": False, "hidden_count": 1,
                                     "reason": "The customer hid part of their screen"}) in viewer.events
            # Paused: a state event, then no frame at all, and no screenshot.
            hidden.pause()
            await viewer.until(lambda: viewer.events[-1][0] == "screen.state" and viewer.events[-1][1]["paused"])
            frames = viewer.frames
            painter.command("fill #000080")
            with pytest.raises(Forbidden):
                await asyncio.to_thread(call, service, "screen.screenshot", {})
            hidden.remove(rect_id)
            assert viewer.frames == frames
            # Resumed: the change made during the pause arrives.
            hidden.resume()
            navy = np.array([0, 0, 128], dtype=np.int16)
            await viewer.until(lambda: bool(near(viewer.canvas.pixels[50:150, 50:250], navy, 8).all()))
            monitors = await asyncio.to_thread(call, service, "screen.monitors", {})
            assert monitors["monitors"][0]["width"] == 1024
        finally:
            await service.stop()

    try:
        asyncio.run(scenario())
    finally:
        painter.close()


def test_scrolling_with_copies_rebuilds_the_exact_screen(display: str) -> None:
    script = ("for i in $(seq 1 150); do echo \"line $i $(( i * 7919 % 10007 )) scrolling\"; sleep 0.01; done;"
              " exec sleep 600")
    xterm = screen_x.start_xterm(display, "80x30+0+0", ["sh", "-c", script], extra=["-T", "screen-test-scroll"])
    told: list[str] = []

    async def scenario() -> None:
        viewer = Viewer()
        service = await start(viewer, HiddenRegions(), display, told)
        await service.on_event("screen.configure", {"copy": True, "max_fps": 60, "viewer_id": "v1"})
        try:
            screen_x.wait_for_window(display, "screen-test-scroll")
            await viewer.until(lambda: any(name == "screen.frame" and any(r["codec"] == "copy" for r in body["rects"])
                                           for name, body in viewer.events))
            # The script prints its lines, then the screen stays still: compare with that still screen.
            # (A picture taken mid-scroll can match the canvas for a moment and then not: the stream goes on.)
            reference = screen_x.reference_capture(display)
            for _attempt in range(100):
                await asyncio.sleep(0.2)
                again = screen_x.reference_capture(display)
                if np.array_equal(again, reference):
                    break
                reference = again
            await viewer.until(lambda: matches(viewer.canvas, reference), timeout=30)
            # A key frame on request, covering the whole screen.
            seen = len(viewer.events)
            await service.on_event("screen.key_request", {"viewer_id": "v1"})
            await viewer.until(lambda: any(name == "screen.frame" and body["key"]
                                           for name, body in viewer.events[seen:]))
            key = next(body for name, body in viewer.events[seen:] if name == "screen.frame" and body["key"])
            assert sum(r["w"] * r["h"] for r in key["rects"]) >= 1024 * 768
            # A monitor by index: screen.info says which, frames carry it.
            seen = len(viewer.events)
            await service.on_event("screen.configure", {"monitor": 0, "viewer_id": "v1"})
            await viewer.until(lambda: any(name == "screen.frame" for name, _ in viewer.events[seen:]))
            info = next(body for name, body in viewer.events[seen:] if name == "screen.info")
            assert info["stream"]["monitor"] == 0 and info["stream"]["width"] == 1024
            frame = next(body for name, body in viewer.events[seen:] if name == "screen.frame")
            assert frame["monitor"] == 0 and frame["key"]
        finally:
            await service.stop()

    try:
        asyncio.run(scenario())
    finally:
        screen_x.stop(xterm)


@pytest.mark.needs("twm", "twm")  # a reparenting window manager
def test_hidden_window_under_a_reparenting_window_manager(tmp_path: Path) -> None:
    """Real desktops put each window in a decorated frame: the whole frame is hidden, and follows moves."""
    config = tmp_path / "twmrc"
    config.write_text('UsePPosition "on"\nRandomPlacement\nNoGrabServer\n')
    title = f"framed-{uuid.uuid4().hex[:8]}"
    with screen_x.xvfb(1024, 768) as framed_display:
        wm = subprocess.Popen(["twm", "-display", framed_display, "-f", str(config)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        painter = None
        try:
            painter = screen_x.Painter(framed_display, "--title", title, "--geometry", "240x160+200+150",
                                       "--stripes", ",".join(SECRET_COLOURS))
            client = screen_x.wait_for_window(framed_display, title)
            hidden = HiddenRegions()
            hidden.add_window(title)

            def secret_on_canvas(viewer: Viewer) -> bool:
                return any(bool(near(viewer.canvas.pixels, colour, 40).any()) for colour in SECRET_RGB)

            def frame_hidden(viewer: Viewer) -> bool:
                frames = [body for name, body in viewer.events if name == "screen.frame"]
                return bool(frames) and any(h["w"] > 240 or h["h"] > 160 for h in frames[-1]["hidden"])

            async def scenario() -> None:
                viewer = Viewer()
                service = await start(viewer, hidden, framed_display, [])
                try:
                    await viewer.until(lambda: frame_hidden(viewer))
                    reference = screen_x.reference_capture(framed_display)
                    assert near(reference, SECRET_RGB[0], 0).any()  # the pattern is on the real screen
                    screen_x.xdotool(framed_display, "windowmove", str(client), "520", "400")
                    await viewer.until(lambda: any(h["x"] >= 500 for h in viewer.canvas.hidden))
                    moved = screen_x.reference_capture(framed_display)
                    assert near(moved[400:, 500:], SECRET_RGB[0], 0).any()
                    assert not secret_on_canvas(viewer)
                    assert viewer.secret_pixels == 0
                finally:
                    await service.stop()

            asyncio.run(scenario())
        finally:
            if painter is not None:
                painter.close()
            screen_x.stop(wm)


def test_hidden_windows_that_cannot_be_located_hide_the_whole_view(display: str) -> None:
    capturer = Capturer(display)
    try:
        area = capturer.virtual_screen()
        hidden = HiddenRegions()
        hidden.add_window("anything")
        buffer, filled, paused = capture_masked(capturer, None, hidden, area)
    finally:
        capturer.close()
    assert filled == [Rect(0, 0, 1024, 768)] and not paused
    assert (buffer == np.frombuffer(bytes(FILL_BGRA), dtype=np.uint32)[0]).all()
