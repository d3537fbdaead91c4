"""The live screen end to end, with every real part (issue 4, MISSION T1 and C4).

Xvfb runs :mod:`screen_app` (a ``Public pattern`` window that changes on command, with a strip
that changes by itself, and a ``Secret notes`` window in colours found nowhere else); a real
relay; a real agent on that display with ``--hide-window "Secret notes"`` and a ``--hide-rect``;
and a technician kernel in real JupyterLab in headless Chromium whose notebook connects with
the agent's session code and shows ``s.screen()``.

Checked, in order (one scenario, module-scoped):

1. the browser's canvas equals an independent capture of the Xvfb screen (ImageMagick
   ``import``) at many points outside hidden and self-changing areas, and follows a change of
   the program's content to the new capture;
2. the hidden window's area in the canvas is the flat hidden fill with its label, and both follow
   the window when ``xdotool`` moves it;
3. the bytes reaching the technician's side hold none of the secret colours: a raw viewer of our
   own (a second viewing token from the kernel) decodes every rect of every frame while the
   window moves, and ``s.screenshot()`` holds none of them and shows the fill;
4. the browser's view keeps being acknowledged at the relay while a cell sleeps;
5. ``w.close()`` takes the relay's viewer count to zero, and nothing reconnects.

The relay's counters are read in the kernel by a thread that writes ``s.relay_status()`` to a
file a few times a second (the kernel's main thread may be busy in a cell), so what the test
reads is what the technician's own session sees.  Every wait is a bounded poll of a condition.
"""

from __future__ import annotations

import contextlib
import io
import json
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

pytestmark = [pytest.mark.e2e, pytest.mark.needs("Xvfb", "xvfb"), pytest.mark.needs("xdotool", "xdotool"),
              pytest.mark.needs("import", "imagemagick")]

from playwright.sync_api import Locator, Page  # noqa: E402
from websockets.sync.client import connect as ws_connect  # noqa: E402

from agent.screen.decode import Canvas, read_frame  # noqa: E402
from agent.screen.hidden import FILL_BGRA, HIDDEN_LABEL  # noqa: E402
from tests.e2e import lab_browser as lab  # noqa: E402
from tests.e2e import screen_app as app_spec  # noqa: E402
from wire import protocol  # noqa: E402
from workbench.lab import Xvfb, start_agent, start_relay  # noqa: E402

pytestmark.append(pytest.mark.needs(lab.CHROMIUM, "chromium"))

Rect = tuple[int, int, int, int]  # x, y, w, h on the screen (= stream pixels: one monitor, "all")
Pixels = npt.NDArray[np.uint8]
#: Reads a picture (the browser's canvas, the raw viewer's) at points: RGB values.
PixelReader = Callable[[Sequence[tuple[int, int]]], list[tuple[int, int, int]]]

SCREEN = (1280, 800)
NOTEBOOK = "screen_real.ipynb"
FILL: lab.RGB = (FILL_BGRA[2], FILL_BGRA[1], FILL_BGRA[0])
#: Hides the public window's top-right block, from the agent's command line.
HIDE_RECT: Rect = (540, 60, 100, 80)
SECRET_RGB = np.array([app_spec.rgb(c) for c in app_spec.SECRET_COLOURS], dtype=np.int16)
#: Per channel: within this of a secret colour counts as a secret pixel (JPEG shifts colours a little).
SECRET_TOLERANCE = 40
#: Per channel, canvas against the independent capture (lossy frames arrive before the lossless refresh).
TOLERANCE = 16
_px, _py = app_spec.PUBLIC_GEOMETRY[2:]
PUBLIC_RECT: Rect = (_px, _py, *app_spec.PUBLIC_GEOMETRY[:2])
TICKER_RECT: Rect = (_px + app_spec.TICKER[0], _py + app_spec.TICKER[1], *app_spec.TICKER[2:])


# ------------------------------------------------------------------ the customer's screen


def capture(display: str) -> Image.Image:
    """The whole X screen, read by ImageMagick: independent of the agent's capture code."""
    png = subprocess.run(["import", "-window", "root", "png:-"], capture_output=True, check=True, timeout=30,
                         env={"DISPLAY": display, "PATH": "/usr/bin:/bin:/usr/local/bin"}).stdout
    with Image.open(io.BytesIO(png)) as image:
        return image.convert("RGB")


def window_rect(display: str, title: str) -> Rect:
    """Where the X server has the window titled *title* (asked with xdotool)."""
    env = {"DISPLAY": display, "PATH": "/usr/bin:/bin:/usr/local/bin"}
    found = subprocess.run(["xdotool", "search", "--name", f"^{title}$"], capture_output=True, text=True,
                           check=True, env=env).stdout.split()
    assert len(found) == 1, f"windows titled {title!r}: {found}"
    text = subprocess.run(["xdotool", "getwindowgeometry", found[0]], capture_output=True, text=True, check=True,
                          env=env).stdout
    position = text.split("Position:")[1].split()[0]
    size = text.split("Geometry:")[1].split()[0]
    x, y = (int(v) for v in position.split(","))
    w, h = (int(v) for v in size.split("x"))
    return x, y, w, h


def move_window(display: str, title: str, x: int, y: int) -> None:
    subprocess.run(["xdotool", "search", "--name", f"^{title}$", "windowmove", "--sync", "%@", str(x), str(y)],
                   check=True, timeout=20, env={"DISPLAY": display, "PATH": "/usr/bin:/bin:/usr/local/bin"})


class ScreenApp:
    """screen_app.py on the display; :meth:`phase` changes its pattern and returns once drawn."""

    def __init__(self, env: dict[str, str]) -> None:
        self.popen = subprocess.Popen([sys.executable, str(Path(app_spec.__file__))], env=env, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.expect("ready")

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self._lines.put(line.strip())
        self._lines.put("(exited)")

    def expect(self, wanted: str) -> None:
        """Wait (bounded) for the program's next line, which must be *wanted*."""
        try:
            line = self._lines.get(timeout=lab.WAIT)
        except queue.Empty:
            raise AssertionError(f"screen_app said nothing for {lab.WAIT:.0f} s; expected {wanted!r}") from None
        assert line == wanted, f"screen_app said {line!r}, expected {wanted!r}"

    def phase(self, phase: int) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(f"phase {phase}\n")
        self.popen.stdin.flush()
        self.expect(f"phase {phase}")

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            if self.popen.stdin is not None:
                self.popen.stdin.write("quit\n")
                self.popen.stdin.close()
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(10)


# ------------------------------------------------------------------ pixels


def inside(point: lab.Point, rects: Sequence[Rect], margin: int = 0) -> bool:
    x, y = point
    return any(rx - margin <= x < rx + rw + margin and ry - margin <= y < ry + rh + margin
               for rx, ry, rw, rh in rects)


def sample_points(image: Image.Image, avoid: Sequence[Rect], step: int = 20) -> list[lab.Point]:
    """Grid points whose 7×7 neighbourhood is one colour (lossy coding is exact-ish only there),
    away from *avoid* (hidden and self-changing areas)."""
    pixels = np.asarray(image)
    points = []
    for y in range(step // 2, image.height - 4, step):
        for x in range(step // 2, image.width - 4, step):
            if inside((x, y), avoid, margin=6):
                continue
            box = pixels[max(0, y - 3): y + 4, max(0, x - 3): x + 4].reshape(-1, 3)
            if (box == box[0]).all():
                points.append((x, y))
    return points


def mismatches(got: Sequence[lab.RGB], image: Image.Image, points: Sequence[lab.Point],
               tolerance: int = TOLERANCE) -> list[tuple[lab.Point, lab.RGB, lab.RGB]]:
    pixels = np.asarray(image)
    bad = []
    for point, value in zip(points, got, strict=True):
        expected = tuple(int(c) for c in pixels[point[1], point[0]])
        if max(abs(a - b) for a, b in zip(value, expected, strict=True)) > tolerance:
            bad.append((point, value, (expected[0], expected[1], expected[2])))
    return bad


def rect_points(rect: Rect, inset: int = 2, count: int = 5) -> list[lab.Point]:
    """A count×count grid over *rect*, *inset* pixels inside its edges."""
    x, y, w, h = rect
    xs = np.linspace(x + inset, x + w - 1 - inset, count).astype(int)
    ys = np.linspace(y + inset, y + h - 1 - inset, count).astype(int)
    return [(int(px), int(py)) for py in ys for px in xs]


def secret_pixels(pixels: Pixels) -> int:
    """How many pixels of an (h, w, 3) RGB array are (near) one of the secret window's colours."""
    values = pixels.reshape(-1, 1, 3).astype(np.int16)
    return int(np.all(np.abs(values - SECRET_RGB[None, :, :]) <= SECRET_TOLERANCE, axis=2).any(axis=1).sum())


# ------------------------------------------------------------------ a raw viewer of our own


@dataclass
class RawViewer:
    """A viewer on the relay (docs/screen-protocol.md) in a thread of the test: decodes every rect of
    every ``screen.frame`` with the reference decoder, counts secret pixels, and acks each frame."""

    url: str
    session_id: str
    token: str
    canvas: Canvas = field(default_factory=Canvas)
    frames: int = 0
    key_frames: int = 0
    rects: int = 0
    payload_bytes: int = 0
    secret_hits: list[tuple[int, dict[str, Any], int]] = field(default_factory=list)
    hidden: list[dict[str, Any]] = field(default_factory=list)
    error: BaseException | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with ws_connect(self.url, max_size=None, compression=None, open_timeout=20) as ws:
                ws.send(protocol.encode(protocol.Message("hello", {
                    "role": "viewer", "session_id": self.session_id, "token": self.token})))
                welcome = protocol.decode(ws.recv(timeout=20))
                assert welcome.type == "welcome", f"relay answered {welcome}"
                # Like the widget: it draws "copy" rects, so the agent streams as it does to the browser.
                ws.send(protocol.encode(protocol.event("screen.configure", {"copy": True})))
                while not self._stop.is_set():
                    try:
                        frame = ws.recv(timeout=0.2)
                    except TimeoutError:
                        continue
                    message = protocol.decode(frame)
                    if message.type != "event" or message["name"] != "screen.frame":
                        continue
                    body, payload = read_frame(message["body"], message.data or b"", self.canvas.stream)
                    with self._lock:
                        for rect, pixels in self.canvas.apply(body, payload):
                            hits = secret_pixels(pixels)
                            if hits:
                                self.secret_hits.append((int(body["seq"]), rect, hits))
                            self.rects += 1
                        self.frames += 1
                        self.key_frames += bool(body.get("key"))
                        self.payload_bytes += len(payload)
                        self.hidden = list(body.get("hidden", []))
                    ws.send(protocol.encode(protocol.event("screen.ack", {"seq": body["seq"]})))
        except BaseException as err:  # reported by stop() in the test's thread
            self.error = err

    def picture(self) -> Pixels:
        with self._lock:
            return self.canvas.pixels.copy()

    def count(self) -> int:
        with self._lock:
            return self.frames

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(20)
        assert not self._thread.is_alive(), "the raw viewer did not stop"
        if self.error is not None:
            raise AssertionError(f"the raw viewer failed: {self.error!r}") from self.error


# ------------------------------------------------------------------ the scenario


@dataclass
class Scene:
    """Everything running, and where the kernel leaves what the test reads."""

    display: str
    relay_url: str
    app: ScreenApp
    page: Page
    info_path: Path
    status_path: Path
    shot_path: Path

    def status(self) -> dict[str, Any]:
        """The latest ``s.relay_status()`` the kernel's watcher wrote, with its counter ``n``."""
        try:
            value: dict[str, Any] = json.loads(self.status_path.read_text())
        except (OSError, ValueError):
            return {"n": -1}
        return value

    def fresh_status(self) -> dict[str, Any]:
        """A status written after this call (the watcher writes several a second)."""
        seen = int(self.status()["n"])

        def newer() -> dict[str, Any] | None:
            status = self.status()
            return status if status["n"] > seen else None

        return lab.wait_until(newer, "a fresh relay status from the kernel's watcher")

    def viewers(self, expected: int, what: str) -> dict[str, Any]:
        """Wait until the relay counts *expected* live viewers for the session; return that status."""
        def counted() -> dict[str, Any] | None:
            status = self.fresh_status()
            return status if status.get("viewers") == expected else None

        try:
            return lab.wait_until(counted, f"{expected} live viewer(s) at the relay after {what}")
        except AssertionError as err:
            raise AssertionError(f"{err}; last status {self.status()}") from None

    def acks(self) -> int:
        return int(self.fresh_status().get("viewer_events", {}).get("screen.ack", 0))

    def canvas(self) -> Locator:
        return lab.cell(self.page, 1).locator(".wb-screen-canvas")


def notebook_cells(code: str, relay_url: str, info: Path, status: Path, shot: Path) -> list[str]:
    return [
        # 0: connect; a watcher thread keeps the relay's view of the session in a file for the test.
        "import json, os, threading, time\n"
        "from workbench import connect\n"
        f"s = connect({code!r}, relay={relay_url!r}, name='e2e')\n"
        "def _watch(path, n=0):\n"
        "    while True:\n"
        "        try:\n"
        "            status = s.relay_status()\n"
        "        except Exception as err:\n"
        "            status = {'error': repr(err)}\n"
        "        n += 1\n"
        "        with open(path + '.tmp', 'w') as out:\n"
        "            json.dump({**status, 'n': n}, out)\n"
        "        os.replace(path + '.tmp', path)\n"
        "        time.sleep(0.2)\n"
        f"threading.Thread(target=_watch, args=({str(status)!r},), daemon=True).start()\n"
        f"with open({str(info)!r} + '.tmp', 'w') as out:\n"
        "    json.dump({'session_id': s.session_id, 'token': s.call('relay.viewer_token').value['token']}, out)\n"
        f"os.replace({str(info)!r} + '.tmp', {str(info)!r})\n"
        "print('connected', s.session_id)",
        # 1: the live view.
        "w = s.screen()\nw",
        # 2: a screenshot, for the notebook's output.
        f"shot = s.screenshot()\nshot.save({str(shot)!r})\nprint('screenshot', shot.size)",
        # 3: a long playbook step (the test interrupts it).
        "print('long step started', flush=True)\ntime.sleep(90)",
        # 4: the technician closes the view.
        "w.close()",
    ]


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    root = tmp_path_factory.mktemp("screen_real")
    lab_root = root / "lab"
    lab_root.mkdir()
    with contextlib.ExitStack() as stack:
        stack.enter_context(lab.subreaper())
        xvfb = Xvfb(*SCREEN)
        stack.callback(xvfb.stop)
        screen_app = ScreenApp(xvfb.env())
        stack.callback(screen_app.stop)
        relay, relay_url = start_relay(root / "relay")
        stack.callback(relay.stop)
        agent, code = start_agent(relay_url, root / "agent", "--hide-window", app_spec.TITLE_SECRET,
                                  "--hide-rect", ",".join(map(str, HIDE_RECT)), env=xvfb.env())
        stack.callback(agent.stop)
        info, status, shot = root / "info.json", root / "status.json", root / "shot.png"
        cells = notebook_cells(code, relay_url, info, status, shot)
        url = stack.enter_context(lab.jupyter_lab(lab_root, NOTEBOOK, cells))
        browser = stack.enter_context(lab.chromium())
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        stack.callback(page.close)
        lab.open_notebook(page, url, NOTEBOOK)
        lab.run_cell(page, 0)
        assert "connected" in lab.cell_text(page, 0), lab.cell_text(page, 0)
        lab.wait_until(info.exists, "the kernel's viewing token")
        yield Scene(xvfb.display, relay_url, screen_app, page, info, status, shot)


def show_widget(scene: Scene) -> Locator:
    """Make sure cell 1's output is a live view at screen size; return its canvas."""
    if scene.canvas().count() == 0:
        lab.run_cell(scene.page, 1)
    canvas = scene.canvas()
    lab.wait_until(lambda: canvas.count() == 1 and lab.canvas_size(canvas) == SCREEN, "the canvas at screen size")
    return canvas


def settle(pixels_at: PixelReader, image: Image.Image, points: Sequence[lab.Point], what: str,
           tolerance: int = TOLERANCE) -> None:
    """Wait until a picture equals *image* at *points*: frames may arrive lossy first, then lossless."""
    last: list[tuple[lab.Point, lab.RGB, lab.RGB]] = []

    def matched() -> bool:
        nonlocal last
        last = mismatches(pixels_at(points), image, points, tolerance)
        return not last

    try:
        lab.wait_until(matched, what)
    except AssertionError as err:
        raise AssertionError(f"{err}; {len(last)}/{len(points)} differ (point, got, screen): {last[:5]}") from None


def public_points(points: Sequence[lab.Point]) -> list[lab.Point]:
    return [p for p in points if inside(p, [PUBLIC_RECT])]


def browser_pixels(canvas: Locator) -> PixelReader:
    return lambda points: lab.canvas_pixels(canvas, points)


def raw_pixels(viewer: RawViewer) -> PixelReader:
    def read(points: Sequence[lab.Point]) -> list[lab.RGB]:
        picture = viewer.picture()
        if picture.shape[:2] != (SCREEN[1], SCREEN[0]):
            return [(-1, -1, -1)] * len(points)
        return [(int(r), int(g), int(b)) for r, g, b in (picture[y, x] for x, y in points)]

    return read


def filled(pixels_at: PixelReader, rect: Rect, what: str, tolerance: int = 0) -> None:
    """Wait until every sampled point of *rect* is the hidden fill (within *tolerance*)."""
    settle(pixels_at, Image.new("RGB", SCREEN, FILL), rect_points(rect), f"the hidden fill over {what} at {rect}",
           tolerance)


def label_rects(canvas: Locator) -> set[Rect]:
    """The view's hidden-area labels, in stream pixels (from where they sit over the canvas)."""
    boxes: list[list[float]] = canvas.evaluate(
        "(c) => { const b = c.getBoundingClientRect(), s = c.width / b.width;"
        " return [...c.closest('.wb-screen').querySelectorAll('.wb-screen-hidden')].map((e) => {"
        "   const r = e.getBoundingClientRect();"
        "   return [(r.left - b.left) * s, (r.top - b.top) * s, r.width * s, r.height * s]; }); }")
    return {(round(x), round(y), round(w), round(h)) for x, y, w, h in boxes}


def near_rects(got: set[Rect], wanted: Sequence[Rect], slack: int = 3) -> bool:
    """Whether *got* is, rectangle for rectangle, *wanted* within *slack* pixels."""
    return len(got) == len(wanted) and all(
        any(all(abs(a - b) <= slack for a, b in zip(g, w, strict=True)) for g in got) for w in wanted)


# ------------------------------------------------------------------ the checks


def test_canvas_matches_the_screen_and_follows_it(scene: Scene) -> None:
    """1. The browser's canvas is the Xvfb screen, and follows the program's change."""
    canvas = show_widget(scene)
    scene.viewers(1, "showing the widget")
    secret = window_rect(scene.display, app_spec.TITLE_SECRET)
    avoid = [TICKER_RECT, secret, HIDE_RECT]

    before = capture(scene.display)
    points = sample_points(before, avoid)
    assert len(public_points(points)) >= 60 and len(points) >= 500, "too few sample points"
    settle(browser_pixels(canvas), before, points, "the canvas to match the screen")
    lab.wait_until(lambda: scene.acks() > 0, "the view's acks at the relay")

    shown = lab.canvas_pixels(canvas, public_points(points))
    scene.app.phase(1)
    after = capture(scene.display)
    changed = mismatches(shown, after, public_points(points), tolerance=TOLERANCE)
    assert len(changed) == len(shown), "the program's change did not change every block on the screen"
    lab.wait_until(lambda: lab.canvas_pixels(canvas, public_points(points)) != shown, "the canvas to change")
    settle(browser_pixels(canvas), after, points, "the canvas to match the changed screen")


def test_hidden_window_is_filled_and_the_fill_follows_it(scene: Scene) -> None:
    """2. The hidden window is the flat fill with its label in the canvas, wherever it moves."""
    canvas = show_widget(scene)
    old = window_rect(scene.display, app_spec.TITLE_SECRET)
    filled(browser_pixels(canvas), old, "the secret window")
    filled(browser_pixels(canvas), HIDE_RECT, "the --hide-rect area")
    labels = lab.cell(scene.page, 1).locator(".wb-screen-hidden")
    lab.wait_until(lambda: near_rects(label_rects(canvas), [old, HIDE_RECT]), "a label over each hidden area")
    assert [labels.nth(i).text_content() for i in range(labels.count())] == [HIDDEN_LABEL] * 2

    move_window(scene.display, app_spec.TITLE_SECRET, 820, 480)
    new = window_rect(scene.display, app_spec.TITLE_SECRET)
    assert new[:2] == (820, 480), new
    filled(browser_pixels(canvas), new, "the moved secret window")
    screen = capture(scene.display)
    x, y, w, h = new
    assert secret_pixels(np.asarray(screen)[y: y + h, x: x + w]) > w * h // 2, "the secret window did not move"
    # Where the window was, the canvas shows the screen again (the root window), not a stale fill.
    uncovered = [p for p in sample_points(screen, [TICKER_RECT, new, HIDE_RECT]) if inside(p, [old])]
    assert len(uncovered) >= 50
    settle(browser_pixels(canvas), screen, uncovered, "the canvas to show what the window uncovered")
    lab.wait_until(lambda: near_rects(label_rects(canvas), [new, HIDE_RECT]), "the label to follow the window")


def test_no_secret_pixel_reaches_the_technician(scene: Scene) -> None:
    """3. Every frame's every rect, and the screenshot, hold none of the secret window's colours."""
    show_widget(scene)
    scene.viewers(1, "showing the widget")
    info = json.loads(scene.info_path.read_text())
    viewer = RawViewer(scene.relay_url, info["session_id"], info["token"])
    try:
        scene.viewers(2, "our raw viewer joining")
        lab.wait_until(lambda: viewer.key_frames > 0, "a key frame at the raw viewer")
        old = window_rect(scene.display, app_spec.TITLE_SECRET)
        filled(raw_pixels(viewer), old, "the secret window (raw viewer)", tolerance=TOLERANCE)
        # The window moves and the program changes while our viewer decodes everything.
        move_window(scene.display, app_spec.TITLE_SECRET, 860, 90)
        scene.app.phase(2)
        new = window_rect(scene.display, app_spec.TITLE_SECRET)
        screen = capture(scene.display)
        assert secret_pixels(np.asarray(screen)) > new[2] * new[3] // 2, "no secret pixels on the screen"
        filled(raw_pixels(viewer), new, "the moved secret window (raw viewer)", tolerance=TOLERANCE)
        points = sample_points(screen, [TICKER_RECT, new, HIDE_RECT])
        settle(raw_pixels(viewer), screen, points, "the raw viewer's picture to match the screen")
        lab.wait_until(lambda: any(near_rects({(h["x"], h["y"], h["w"], h["h"])}, [new]) for h in viewer.hidden),
                       "the frames to list the moved window as hidden")
        frames = viewer.count()
        lab.wait_until(lambda: viewer.count() >= frames + 10, "ten more frames at the raw viewer")
    finally:
        viewer.stop()
    assert viewer.key_frames >= 1 and viewer.frames > 10 and viewer.rects >= viewer.frames and viewer.payload_bytes
    assert not viewer.secret_hits, f"secret colours in frames (seq, rect, pixels): {viewer.secret_hits[:5]}"
    assert secret_pixels(viewer.picture()) == 0
    scene.viewers(1, "our raw viewer leaving")

    lab.run_cell(scene.page, 2)
    assert "screenshot (1280, 800)" in lab.cell_text(scene.page, 2), lab.cell_text(scene.page, 2)
    with Image.open(scene.shot_path) as opened:
        shot = opened.convert("RGB")
    pixels = np.asarray(shot)
    assert secret_pixels(pixels) == 0, "the screenshot holds secret pixels"
    for rect in (new, HIDE_RECT):
        assert {tuple(int(c) for c in pixels[y, x]) for x, y in rect_points(rect)} == {FILL}, rect
    bad = mismatches([(int(r), int(g), int(b)) for r, g, b in (pixels[y, x] for x, y in points)], screen, points,
                     tolerance=0)
    assert not bad, f"the screenshot differs from the screen at {len(bad)} points: {bad[:5]}"


def test_the_view_streams_while_a_cell_runs(scene: Scene) -> None:
    """4. While another cell sleeps, the browser's view keeps drawing and acknowledging frames."""
    canvas = show_widget(scene)
    scene.viewers(1, "showing the widget")
    page = scene.page
    lab.run_cell(page, 3, wait=False)
    lab.wait_until(lambda: "long step started" in lab.cell_text(page, 3), "the long cell to start")
    assert lab.cell_running(page, 3)
    acks = scene.acks()
    tx, ty, tw, th = TICKER_RECT
    ticker = [(x, ty + th // 2) for x in range(tx + 4, tx + tw - 4, 8)]
    first = lab.canvas_pixels(canvas, ticker)
    lab.wait_until(lambda: lab.canvas_pixels(canvas, ticker) != first, "the canvas to draw the ticker")
    lab.wait_until(lambda: scene.acks() >= acks + 20, "20 more acks at the relay")
    status = scene.fresh_status()
    assert status["viewers"] == 1, "acks from a viewer other than the browser's"
    assert lab.cell_running(page, 3), "the long cell ended before the acks were counted"
    lab.interrupt_kernel(page)
    lab.wait_until(lambda: not lab.cell_running(page, 3), "the interrupted cell to end")


def test_closing_the_widget_ends_its_stream(scene: Scene) -> None:
    """5. ``w.close()``: the relay's viewer count drops to zero and stays there."""
    show_widget(scene)
    scene.viewers(1, "showing the widget")
    lab.run_cell(scene.page, 4)
    closed = scene.viewers(0, "w.close()")
    lab.wait_until(lambda: scene.canvas().count() == 0, "the view to leave the page")
    # Ten more reports from the watcher (two seconds, past any reconnection delay): still none.
    later = lab.wait_until(lambda: ((st := scene.status())["n"] >= closed["n"] + 10 and st) or None,
                           "ten more relay status reports")
    assert later["viewers"] == 0
    assert later["viewer_connections"] == closed["viewer_connections"], "the view reconnected after w.close()"
