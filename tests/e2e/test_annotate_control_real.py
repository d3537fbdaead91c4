"""Annotation and control end to end, with every real part (issue 5: T5, T6, C1, C2).

Xvfb runs :mod:`input_recorder` (a window over the whole screen, in one flat colour, that logs
every key with the character it typed, every button and every motion); a real relay; a real
agent on that display started with ``--allow-control``; and a technician kernel in real
JupyterLab in headless Chromium whose notebook connects with the agent's session code and shows
``s.screen()``, fitted to the cell's width (so canvas px are not desktop px).

Checked, in order (one scenario, module-scoped):

1. a pen stroke (tool chosen with its shortcut key) and an arrow (tool and colour chosen with
   the toolbar's buttons), drawn with the mouse on the canvas, appear in an independent capture
   of the X screen (ImageMagick ``import``) along the path the mouse took, mapped from the
   canvas's displayed size to the stream's; the technician's canvas shows them too; Shift+C
   removes them from the screen;
2. ``s.annotate.arrow(...)`` from a cell is on the screen at its coordinates when the call
   returns, and ``s.annotate.clear()`` removes it;
3. with Control on, clicks on the canvas reach the recorder at the mapped desktop coordinates, and
   ``s.control.click(x, y)`` from a cell at (x, y);
4. text typed in the widget with accents and a Cyrillic letter reaches the recorder as exactly
   those characters, and is journaled;
5. while a separate process (xdotool) moves the pointer and types as the customer, the
   technician's typing stops arriving and the widget says why; after the customer stops, it
   resumes.  Asserted on the order of events in the recorder's log and on the widget's status.

Control (3–5) goes through the agent's routing of ``control.*`` events to
``agent.control.ControlService``.  Every wait is a bounded poll of a condition; nothing asserts a duration.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import math
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

pytestmark = [pytest.mark.e2e, pytest.mark.needs("Xvfb", "xvfb"), pytest.mark.needs("xdotool", "xdotool"),
              pytest.mark.needs("import", "imagemagick")]

from playwright.sync_api import Locator, Page  # noqa: E402

from tests.e2e import input_recorder  # noqa: E402
from tests.e2e import lab_browser as lab  # noqa: E402
from workbench.lab import Proc, Xvfb, start_agent, start_relay  # noqa: E402

pytestmark.append(pytest.mark.needs(lab.CHROMIUM, "chromium"))

REPO = Path(__file__).resolve().parents[2]

SCREEN = (1280, 800)
NOTEBOOK = "annotate_control_real.ipynb"
RGB = tuple[int, int, int]
Pixels = npt.NDArray[np.uint8]
Point = tuple[float, float]
BACKGROUND_RGB: RGB = (int(input_recorder.BACKGROUND[1:3], 16), int(input_recorder.BACKGROUND[3:5], 16),
                       int(input_recorder.BACKGROUND[5:7], 16))
#: The widget's palette (workbench/static/screen.js PALETTE) and s.annotate's names for the same colours.
RED: RGB = (0xE5, 0x39, 0x35)
GREEN: RGB = (0x43, 0xA0, 0x47)
BLUE: RGB = (0x1E, 0x88, 0xE5)
#: Stroke widths (desktop px): the widget's defaults for pen and arrow, and s.annotate.arrow's.
PEN_WIDTH = ARROW_WIDTH = 4
#: An arrow's head reaches this far from its shaft's line (agent/annotate/render.py: 1.5 w + 5).
ARROW_HALF_HEAD = 1.5 * ARROW_WIDTH + 5
#: Slack between where the mouse was and where the mark's pixels are: a pointer position becomes
#: a whole desktop pixel (floor), and the line is drawn without anti-aliasing.
SLACK = 3
#: The arrow s.annotate draws from a cell (desktop px), away from the widget's marks.
CELL_ARROW = (900, 560, 1080, 680)
#: Where s.control.click clicks from a cell (desktop px).
CELL_CLICK = (333, 222)
ACCENTS = "héllo ç ß ж"
STATUS_CUSTOMER = "The customer is using their computer"
#: Where the customer's pointer goes (y), and from which x; each loop step moves one pixel right.
CUSTOMER_Y, CUSTOMER_X0 = 760, 1100
CUSTOMER_STEPS = 150


# ------------------------------------------------------------------ the customer's side


class Recorder:
    """input_recorder.py on the display: what it logged, in order."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = Proc([sys.executable, str(Path(input_recorder.__file__)), str(SCREEN[0]), str(SCREEN[1])],
                         env=env, name="input_recorder")
        self.proc.wait_for('"t": "ready"', timeout=lab.WAIT)

    def mark(self) -> int:
        """A position in the log: pass it to :meth:`events` for what came after."""
        return len(self.proc.lines)

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.proc.lines[since:] if line.startswith("{")]

    def typed(self, since: int = 0) -> str:
        """The characters typed since *since* (key presses that typed one; not Shift and the like)."""
        return "".join(e["char"] for e in self.events(since) if e["t"] == "key" and e["char"].isprintable())

    def stop(self) -> None:
        self.proc.stop()


def capture(display: str) -> Pixels:
    """The X screen as ImageMagick reads it (independent of the agent's capture and overlay code)."""
    png = subprocess.run(["import", "-window", "root", "png:-"], capture_output=True, check=True, timeout=30,
                         env={"DISPLAY": display, "PATH": "/usr/bin:/bin:/usr/local/bin"}).stdout
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"))


def pixels_of(shot: Pixels, colour: RGB) -> npt.NDArray[np.int64]:
    """(x, y) of every pixel exactly *colour* (marks are drawn without anti-aliasing)."""
    ys, xs = np.nonzero(np.all(shot == np.array(colour, dtype=np.uint8), axis=2))
    return np.stack([xs, ys], axis=1).astype(np.int64)


def distance_to_path(points: npt.NDArray[np.int64], path: Sequence[Point]) -> npt.NDArray[np.float64]:
    """Each point's distance to the polyline *path*."""
    p = points.astype(np.float64)
    best = np.full(len(p), np.inf)
    for (ax, ay), (bx, by) in itertools.pairwise(path):
        a, ab = np.array([ax, ay]), np.array([bx - ax, by - ay])
        t = np.clip(((p - a) @ ab) / max(float(ab @ ab), 1e-9), 0.0, 1.0)
        best = np.minimum(best, np.hypot(*(p - (a + t[:, None] * ab)).T))
    return best


def along(path: Sequence[Point], step: float = 6.0) -> list[Point]:
    """Points every *step* px along *path*, both ends included."""
    out: list[Point] = [path[0]]
    for (ax, ay), (bx, by) in itertools.pairwise(path):
        n = max(1, math.ceil(math.hypot(bx - ax, by - ay) / step))
        out += [(ax + (bx - ax) * i / n, ay + (by - ay) * i / n) for i in range(1, n + 1)]
    return out


def mark_problem(shot: Pixels, colour: RGB, path: Sequence[Point], spread: float) -> str:
    """Why *shot* does not show a mark of *colour* along *path* ("" when it does): every point along
    the path has a pixel of that colour within SLACK px, and every pixel of that colour on the whole
    screen is within *spread* px of the path (so the mark is there, and nowhere else)."""
    found = pixels_of(shot, colour)
    if not len(found):
        return f"no pixel of {colour} on the screen"
    missing = [(round(x), round(y)) for x, y in along(path)
               if distance_to_path(found, [(x, y), (x, y)]).min() > SLACK]
    if missing:
        return f"{len(missing)} points of the path have no {colour} pixel near them: {missing[:6]}"
    far = found[distance_to_path(found, path) > spread]
    if len(far):
        return f"{len(far)} {colour} pixels away from the path, e.g. {far[:4].tolist()}"
    return ""


def wait_for_screen(display: str, problem: Callable[[Pixels], str], what: str) -> Pixels:
    """Capture the screen until *problem* finds none (bounded); return that capture."""
    last = ""
    shot: Pixels | None = None

    def fine() -> bool:
        nonlocal last, shot
        shot = capture(display)
        last = problem(shot)
        return not last

    try:
        lab.wait_until(fine, what, interval=0.1)
    except AssertionError as err:
        raise AssertionError(f"{err}: {last}") from None
    assert shot is not None
    return shot


# ------------------------------------------------------------------ the technician's side


@dataclass
class Scene:
    display: str
    env: dict[str, str]
    folder: Path
    recorder: Recorder
    page: Page
    keyboard: lab.LayoutKeyboard
    journals: Path

    def view(self) -> Locator:
        return lab.cell(self.page, 1).locator(".wb-screen")

    def canvas(self) -> Locator:
        return self.view().locator(".wb-screen-canvas")

    def status(self) -> str:
        return self.view().locator(".wb-screen-status").text_content() or ""

    def tool(self) -> str | None:
        return self.view().get_attribute("data-tool")

    def journal(self, kind: str) -> list[dict[str, Any]]:
        records = []
        for path in sorted(self.journals.glob("*.jsonl")):
            for line in path.read_text().splitlines():
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    if record.get("kind") == kind:
                        records.append(record)
        return records


@dataclass(frozen=True)
class Mapping:
    """The canvas as shown: CSS px in the page ⇄ desktop px (the stream is the whole screen, origin 0, 0)."""

    left: float
    top: float
    width: float
    height: float

    @classmethod
    def of(cls, canvas: Locator) -> Mapping:
        return cls(*lab.canvas_box(canvas))

    def client(self, fx: float, fy: float) -> tuple[int, int]:
        """The page pixel (whole CSS px, as a person's mouse gives) at fractions (fx, fy) of the canvas."""
        return round(self.left + fx * self.width), round(self.top + fy * self.height)

    def desktop(self, client: tuple[float, float]) -> tuple[int, int]:
        """The desktop pixel under page point *client*: scaled by stream size over displayed size."""
        return (math.floor((client[0] - self.left) * SCREEN[0] / self.width),
                math.floor((client[1] - self.top) * SCREEN[1] / self.height))


def notebook_cells(code: str, relay_url: str) -> list[str]:
    x1, y1, x2, y2 = CELL_ARROW
    return [
        f"from workbench import connect\ns = connect({code!r}, relay={relay_url!r}, name='e2e')\nprint('connected')",
        "w = s.screen()\nw",
        f"arrow = s.annotate.arrow({x1}, {y1}, {x2}, {y2}, colour='blue')\nprint('arrow', arrow)",
        "print('cleared', s.annotate.clear())",
        f"print('clicked', s.control.click({CELL_CLICK[0]}, {CELL_CLICK[1]}))",
    ]


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    root = tmp_path_factory.mktemp("annotate_control_real")
    lab_root = root / "lab"
    lab_root.mkdir()
    with contextlib.ExitStack() as stack:
        stack.enter_context(lab.subreaper())
        xvfb = Xvfb(*SCREEN)
        stack.callback(xvfb.stop)
        env = xvfb.env(LANG="C.UTF-8")  # Tk reports the characters typed as UTF-8
        recorder = Recorder(env)
        stack.callback(recorder.stop)
        relay, relay_url = start_relay(root / "relay")
        stack.callback(relay.stop)
        agent, code = start_agent(relay_url, root / "agent", "--allow-control", env=env)
        stack.callback(agent.stop)
        url = stack.enter_context(lab.jupyter_lab(lab_root, NOTEBOOK, notebook_cells(code, relay_url)))
        browser = stack.enter_context(lab.chromium())
        page = browser.new_page(viewport={"width": 1100, "height": 1300})
        stack.callback(page.close)
        lab.open_notebook(page, url, NOTEBOOK)
        lab.run_cell(page, 0)
        assert "connected" in lab.cell_text(page, 0), lab.cell_text(page, 0)
        keyboard = lab.LayoutKeyboard(page)
        stack.callback(keyboard.close)
        made = Scene(xvfb.display, env, root, recorder, page, keyboard, root / "agent" / "journals")
        show_widget(made)
        yield made


def show_widget(scene: Scene) -> Mapping:
    """Cell 1's live view, streaming the recorder; returns how its canvas maps to the desktop."""
    if scene.canvas().count() == 0:
        lab.run_cell(scene.page, 1)
    canvas = scene.canvas()
    lab.wait_until(lambda: canvas.count() == 1 and lab.canvas_size(canvas) == SCREEN, "the canvas at screen size")
    lab.wait_until(lambda: lab.canvas_pixels(canvas, [(640, 400)]) == [BACKGROUND_RGB], "the recorder on the canvas")
    mapping = Mapping.of(canvas)
    # Fitted to the cell: a canvas px is not a desktop px, so the mapping is really exercised.
    assert mapping.width < SCREEN[0] * 0.9, mapping
    return mapping


def drag(page: Page, path: Sequence[tuple[int, int]]) -> None:
    """Press the left button at path[0], move through the other points, release at the last."""
    page.mouse.move(*path[0])
    page.mouse.down()
    for point in path[1:]:
        page.mouse.move(*point, steps=12)
        lab.input_settled(page)  # each corner is a pointer position the page saw, not merged away
    page.mouse.up()


def canvas_shows(canvas: Locator, colour: RGB, path: Sequence[Point], tolerance: int = 48) -> bool:
    """Whether the technician's canvas (the customer's screen as streamed) has *colour* near every
    point along *path* (within *tolerance* per channel: the stream may code it lossily)."""
    offsets = [(dx, dy) for dx in range(-2, 3) for dy in range(-2, 3)]
    centres = [(round(x), round(y)) for x, y in along(path, 10.0)]
    values = lab.canvas_pixels(canvas, [(x + dx, y + dy) for x, y in centres for dx, dy in offsets])
    near = [max(abs(a - b) for a, b in zip(v, colour, strict=True)) <= tolerance for v in values]
    return all(any(near[i * len(offsets): (i + 1) * len(offsets)]) for i in range(len(centres)))


def marks_info(scene: Scene) -> str:
    return scene.view().locator(".wb-screen-marks-info").text_content() or ""


# ------------------------------------------------------------------ 1, 2: annotation


def test_marks_drawn_in_the_widget_land_on_the_x_screen_and_clear(scene: Scene) -> None:
    """1. Pen (shortcut P) and arrow (toolbar button, green): on the X screen along the mouse's path."""
    page, canvas = scene.page, scene.canvas()
    mapping = show_widget(scene)
    set_control(scene, False)  # with Control on, keys and drags would go to the customer's computer
    before = capture(scene.display)
    assert not len(pixels_of(before, RED)) and not len(pixels_of(before, GREEN)), "mark colours before any mark"

    # Pen, chosen with its shortcut key once the view has the focus (a click on the picture gives it).
    page.mouse.click(*mapping.client(0.5, 0.9))
    page.keyboard.press("p")
    lab.wait_until(lambda: scene.tool() == "pen", "the pen tool")
    pen_client = [mapping.client(0.15, 0.2), mapping.client(0.35, 0.6), mapping.client(0.55, 0.25)]
    drag(page, pen_client)
    pen_path = [mapping.desktop(p) for p in pen_client]
    shot = wait_for_screen(scene.display,
                           lambda s: mark_problem(s, RED, pen_path, PEN_WIDTH / 2 + SLACK),
                           f"the pen stroke on the X screen along {pen_path}")

    # Arrow and green, chosen with the toolbar's buttons.
    scene.view().locator("button.wb-screen-tool[data-tool='arrow']").click()
    scene.view().locator("button.wb-screen-colour[data-colour='#43a047']").click()
    lab.wait_until(lambda: scene.tool() == "arrow", "the arrow tool")
    arrow_client = [mapping.client(0.62, 0.75), mapping.client(0.85, 0.45)]
    drag(page, arrow_client)
    arrow_path = [mapping.desktop(p) for p in arrow_client]
    shot = wait_for_screen(scene.display,
                           lambda s: mark_problem(s, GREEN, arrow_path, ARROW_HALF_HEAD + SLACK),
                           f"the arrow on the X screen from {arrow_path[0]} to {arrow_path[1]}")
    assert not mark_problem(shot, RED, pen_path, PEN_WIDTH / 2 + SLACK), "the pen stroke went with the arrow"

    # The technician sees each mark through the stream (the view keeps no copy of its own).
    lab.wait_until(lambda: canvas_shows(canvas, RED, pen_path) and canvas_shows(canvas, GREEN, arrow_path),
                   "both marks on the technician's canvas")
    lab.wait_until(lambda: marks_info(scene) == "2 marks on the customer's screen", "the widget's count of marks")

    # Shift+C clears: no pixel of either colour anywhere, and the recorder shows again under the path.
    page.keyboard.press("Shift+C")
    under = [(round(x), round(y)) for x, y in along(pen_path, 10.0) + along(arrow_path, 10.0)]

    def cleared(s: Pixels) -> str:
        left = len(pixels_of(s, RED)) + len(pixels_of(s, GREEN))
        if left:
            return f"{left} mark pixels left"
        covered = [p for p in under if tuple(int(c) for c in s[p[1], p[0]]) != BACKGROUND_RGB]
        return f"not the recorder's colour at {covered[:5]}" if covered else ""

    wait_for_screen(scene.display, cleared, "the marks to leave the X screen after Shift+C")
    lab.wait_until(lambda: marks_info(scene) == "", "the widget's count of marks to clear")


def test_an_arrow_from_a_cell_is_on_screen_when_the_call_returns(scene: Scene) -> None:
    """2. ``s.annotate.arrow(...)`` lands at its desktop coordinates; ``s.annotate.clear()`` removes it."""
    x1, y1, x2, y2 = CELL_ARROW
    lab.run_cell(scene.page, 2)
    assert re.search(r"^arrow \S+", lab.cell_text(scene.page, 2)), lab.cell_text(scene.page, 2)
    # No waiting: the call returns once the mark is on the customer's screen.
    problem = mark_problem(capture(scene.display), BLUE, [(x1, y1), (x2, y2)], ARROW_HALF_HEAD + SLACK)
    assert not problem, problem
    lab.run_cell(scene.page, 3)
    assert lab.cell_text(scene.page, 3).strip() == "cleared 1", lab.cell_text(scene.page, 3)
    # Nor here: clear() too returns once the screen shows it.
    assert not len(pixels_of(capture(scene.display), BLUE)), "the arrow is still on the screen"


# ------------------------------------------------------------------ 3-5: control


def set_control(scene: Scene, on: bool) -> None:
    """The widget's Control toggle on (granted by --allow-control) or off, with the toolbar's button."""
    button = scene.view().locator("button.wb-screen-control")
    if (button.get_attribute("aria-pressed") == "true") == on:
        return
    lab.wait_until(lambda: button.is_enabled(), "the Control toggle to be enabled (screen.control granted)")
    button.click()
    lab.wait_until(lambda: button.get_attribute("aria-pressed") == str(on).lower(), f"Control {on}")
    assert button.text_content() == ("Control: on" if on else "Control")
    assert (scene.tool() == "control") == on


def control_on(scene: Scene) -> None:
    """Control on, and the view focused (as a click on it would) so that keys go to the customer."""
    set_control(scene, True)
    scene.view().focus()


def test_clicks_in_the_widget_reach_the_program_at_the_mapped_place(scene: Scene) -> None:
    """3. Clicks on the canvas arrive at the recorder as presses at the desktop pixel under the mouse;
    ``s.control.click`` from a cell at its coordinates."""
    mapping = show_widget(scene)
    control_on(scene)
    for fx, fy in ((0.3, 0.35), (0.7, 0.6)):
        since = scene.recorder.mark()
        client = mapping.client(fx, fy)
        scene.page.mouse.click(*client)
        x, y = mapping.desktop(client)

        def pressed_and_released(since: int = since) -> list[dict[str, Any]] | None:
            buttons = [e for e in scene.recorder.events(since) if e["t"] in ("down", "up")]
            return buttons if [e["t"] for e in buttons] == ["down", "up"] else None

        down, up = lab.wait_until(pressed_and_released, f"a click at ({x}, {y}) at the recorder")
        assert (down["b"], down["x"], down["y"]) == (1, x, y), (down, (x, y))
        assert (up["b"], up["x"], up["y"]) == (1, x, y), (up, (x, y))

    # A notebook cell clicks too, under the same grant: s.control.click(x, y) lands at (x, y).
    since = scene.recorder.mark()
    lab.run_cell(scene.page, 4)
    assert "clicked" in lab.cell_text(scene.page, 4), lab.cell_text(scene.page, 4)
    lab.wait_until(lambda: [(e["t"], e["b"], e["x"], e["y"]) for e in scene.recorder.events(since)
                            if e["t"] in ("down", "up")] == [("down", 1, *CELL_CLICK), ("up", 1, *CELL_CLICK)],
                   f"s.control.click's press and release at {CELL_CLICK}")


def test_text_with_accents_typed_in_the_widget_reaches_the_program(scene: Scene) -> None:
    """4. "héllo ç ß ж" typed in the widget: the recorder receives exactly those characters."""
    show_widget(scene)
    control_on(scene)
    since = scene.recorder.mark()
    scene.keyboard.type(ACCENTS)
    lab.wait_until(lambda: len(scene.recorder.typed(since)) >= len(ACCENTS), "the typed text at the recorder")
    assert scene.recorder.typed(since) == ACCENTS
    assert not [e for e in scene.recorder.events(since) if e["t"] == "down"], "a click while typing"

    def journaled() -> bool:
        return ACCENTS in "".join(r.get("text", "") for r in scene.journal("control"))

    lab.wait_until(journaled, "the typed text in the customer's journal")


def customer_loop(stop_file: Path) -> list[str]:
    """The customer at their own computer: each step moves the pointer one pixel further right and
    presses "z", until *stop_file* exists (or CUSTOMER_STEPS steps)."""
    script = (f"i=0; while [ $i -lt {CUSTOMER_STEPS} ] && [ ! -e '{stop_file}' ]; do "
              f"xdotool mousemove $(({CUSTOMER_X0} + i)) {CUSTOMER_Y} key z; i=$((i + 1)); sleep 0.1; done")
    return ["sh", "-c", script]


def test_the_customers_input_suspends_the_technicians_until_they_stop(scene: Scene) -> None:
    """5. C1: the technician's characters stop arriving while the customer uses their computer, the
    widget says so, and they arrive again once the customer has stopped."""
    show_widget(scene)
    control_on(scene)
    since = scene.recorder.mark()
    sent: list[tuple[int, str]] = []  # (token, phase when sent)
    phase = "before"

    def send() -> bool:
        """Type the next token in the widget; False, so that ``send() or condition`` reads the condition."""
        token = len(sent)
        sent.append((token, phase))
        scene.keyboard.type(f",{token}.")
        return False

    def arrived() -> list[int]:
        return [token for token, _ in technician_tokens(scene.recorder.events(since))]

    def customer_steps() -> int:
        return len({step for kind, step in classify(scene.recorder.events(since)) if kind == "customer-move"})

    # Before: the technician types, and all of it arrives, in order.
    lab.wait_until(lambda: send() or len(arrived()) >= 3, "the technician's typing to arrive", interval=0)
    lab.wait_until(lambda: arrived() == [token for token, _ in sent], "all of the technician's typing to arrive")

    stop_file = scene.folder / "customer.stop"
    stop_file.unlink(missing_ok=True)
    customer = subprocess.Popen(customer_loop(stop_file), env=scene.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.STDOUT)
    try:
        # During: the widget says the customer has priority; the technician keeps typing.
        phase = "starting"
        lab.wait_until(lambda: send() or STATUS_CUSTOMER in scene.status(), "the widget to say the customer is active",
                       interval=0)
        active_status = scene.status()
        phase = "active"
        lab.wait_until(lambda: send() or (sum(p == "active" for _, p in sent) >= 8 and customer_steps() >= 3
                                          and STATUS_CUSTOMER in scene.status()),
                       "eight tokens typed while the customer is active, over three of their steps", interval=0)
    finally:
        stop_file.touch()
        try:
            customer.wait(lab.WAIT)
        except subprocess.TimeoutExpired:
            customer.kill()
            customer.wait(10)
    assert customer.returncode == 0, f"the customer's xdotool loop failed ({customer.returncode})"

    # After: the widget's notice goes once the customer has been idle, and the typing arrives again.
    phase = "stopped"
    lab.wait_until(lambda: send() or STATUS_CUSTOMER not in scene.status(), "the widget's notice to go", interval=0)
    phase = "resumed"
    first_resumed = len(sent)
    lab.wait_until(lambda: send() or any(t >= first_resumed for t in arrived()),
                   "the technician's typing to arrive again", interval=0)

    log = scene.recorder.events(since)
    items = classify(log)
    moves = [i for i, (kind, _) in enumerate(items) if kind == "customer-move"]
    assert len({items[i][1] for i in moves}) >= 3, "the customer moved fewer than three times"
    assert any(kind == "customer-key" for kind, _ in items), "the customer's own keys did not reach the program"
    tokens = technician_tokens(log)
    by_phase = {token: p for token, p in sent}

    # While the customer is active (from their second step to their last event), none of the
    # technician's characters arrive; the first step's events may follow ones already in flight.
    first_step = items[moves[0]][1]
    second = next(i for i in moves if items[i][1] > first_step)
    last_customer = max(i for i, (kind, _) in enumerate(items) if kind.startswith("customer"))
    during = [items[i] for i in range(second, last_customer) if items[i][0] == "technician"]
    assert not during, f"technician characters arrived while the customer was active: {timeline(items)}"

    # What the technician typed while the widget said the customer had priority never arrives,
    # not even later: it was dropped, not queued.
    held = [token for token, p in sent if p == "active"]
    assert len(held) >= 8, held
    assert not set(held) & {t for t, _ in tokens}, f"held {held}; log {timeline(items)}"

    # Once the customer stopped, typing arrives again: only what was typed after they stopped, in order.
    after = [token for token, index in tokens if index > last_customer]
    assert after and any(token >= first_resumed for token in after), (after, first_resumed)
    assert all(by_phase[token] in ("stopped", "resumed") for token in after), (
        [(t, by_phase[t]) for t in after], timeline(items))
    assert after == sorted(after)
    # docs/control-protocol.md words it "…: your input resumes 2 s after they stop"; the widget shows
    # the agent's resume_in there, which is the time left, not the grace period (reported).
    said = re.match(rf"{STATUS_CUSTOMER}: your input resumes (\d+(?:\.\d+)?) s after they stop · ", active_status)
    assert said and 0 < float(said.group(1)) <= 2, active_status

    # The customer's journal counts what was held back (one per character event the widget sent).
    held_chars = sum(len(f",{token}.") for token in held)
    lab.wait_until(lambda: sum(r.get("held_back", 0) for r in scene.journal("control")) >= held_chars,
                   f"at least {held_chars} held-back inputs in the journal")


def classify(log: Sequence[dict[str, Any]]) -> list[tuple[str, Any]]:
    """The recorder's log as (who, what): ("customer-move", step) for the customer's pointer,
    ("customer-key", "z"), ("technician", char) for each character the technician typed, and
    ("other", event) for the rest (releases, motion elsewhere)."""
    items: list[tuple[str, Any]] = []
    for event in log:
        if event["t"] == "motion" and event["y"] == CUSTOMER_Y and event["x"] >= CUSTOMER_X0:
            items.append(("customer-move", event["x"] - CUSTOMER_X0))
        elif event["t"] == "key" and event["char"] == "z":
            items.append(("customer-key", "z"))
        elif event["t"] == "key" and event["char"] and event["char"] in "0123456789,.":
            items.append(("technician", event["char"]))
        else:
            items.append(("other", event))
    return items


def timeline(items: Sequence[tuple[str, Any]]) -> str:
    """The log in short, for messages: the technician's characters as typed, [mN] the customer's
    N-th step's motion, [z] their key."""
    marks: dict[str, Callable[[Any], str]] = {"customer-move": lambda step: f"[m{step}]",
                                              "customer-key": lambda _: "[z]", "technician": str,
                                              "other": lambda _: ""}
    return "".join(marks[kind](what) for kind, what in items)


def technician_tokens(log: Sequence[dict[str, Any]]) -> list[tuple[int, int]]:
    """The technician's complete tokens (",N.") that arrived, as (N, index in *log* of its "."), in
    order.  A token whose characters the customer's events split is not one: its head was typed
    before the suspension, and its tail is another token's, typed as injection resumed (",4" then
    the customer, then the "." of ",74."); nor is a token cut short."""
    items = classify(log)
    chars = [(i, what) for i, (kind, what) in enumerate(items) if kind == "technician"]
    customer = [i for i, (kind, _) in enumerate(items) if kind.startswith("customer")]
    text = "".join(c for _, c in chars)
    tokens = []
    for found in re.finditer(r",(\d+)\.", text):
        first, last = chars[found.start()][0], chars[found.end() - 1][0]
        if not any(first < i < last for i in customer):
            tokens.append((int(found.group(1)), last))
    return tokens
