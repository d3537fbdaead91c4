"""The widget's marks and control tools in a real browser (headless Debian Chromium).

The far end is ``viewer_stub.py``'s stub, extended here to record the ``annotate.*`` and
``control.*`` events the widget sends, to confirm marks as the agent does (``screen.marks``
with ``shown_at``), and to send ``screen.control``.  It runs in this process, on its own loop
thread.  Checked, by driving the real mouse and keyboard of the page:

- drawing on the canvas sends ``annotate.mark`` in the customer's *desktop* pixels, fitted to
  a narrow cell, at 1:1 scrolled sideways, and on the second monitor;
- the preview of a mark shows while it is drawn and goes once a frame captured after the
  agent drew it has been drawn (the stream shows it then: seen once);
- shortcuts switch tools and colours, undo and clear send ``annotate.remove`` / ``clear``;
- the Control button is disabled until ``screen.control {"granted": true}``; in control,
  pointer events go out in desktop pixels and keys as ``control.key`` / ``control.text``; the
  status line says when the customer is using their computer; a revoked grant ends control
  and releases what was held;
- in JupyterLab, the shortcuts do not reach the notebook's own single-key commands.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import viewer_stub
from tests.e2e.test_widget_browser import (  # noqa: F401  (pytest fixtures, requested by name below)
    WAIT,
    ScreenSource,
    blank_page_url,
    browser,
    cell,
    lab_url,
    open_notebook,
    reaper,
    run_cell,
    wait_canvas_size,
    wait_until,
)
from wire import protocol
from wire.errors import ProtocolError

pytestmark = pytest.mark.e2e

SCREEN_JS = Path(__file__).parents[2] / "workbench" / "static" / "screen.js"
RED = "#e53935"


# ------------------------------------------------------------------ the stub, recording


@dataclass
class ToolsStub(viewer_stub.Stub):
    """The viewer stub, plus: records annotate.* / control.* events, confirms marks like the agent."""

    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    marks: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def on_viewer_message(self, viewer: viewer_stub.Viewer, raw: str | bytes) -> None:
        try:
            message = protocol.decode(raw)
        except ProtocolError:
            message = None
        name = message.get("name") if message is not None and message.type == "event" else None
        if not isinstance(name, str) or not name.startswith(("annotate.", "control.")):
            await super().on_viewer_message(viewer, raw)
            return
        assert message is not None
        body = dict(message.get("body") or {})
        self.received.append((name, body))
        if name == "annotate.mark" and body["mark"]["tool"] != "laser":
            self.marks[body["mark"]["id"]] = body["mark"]
        elif name == "annotate.remove":
            self.marks.pop(str(body.get("id")), None)
        elif name == "annotate.clear":
            self.marks.clear()
        else:
            return
        # As the agent: drawn now, so frames captured from now on show the marks.
        await self.broadcast("screen.marks", {"marks": list(self.marks.values()), "overlay": "x11",
                                              "shown_at": time.time() * 1000})

    async def broadcast(self, name: str, body: dict[str, Any]) -> None:
        for viewer in list(self.live.values()):
            await viewer.ws.send(viewer_stub.send_text(protocol.event(name, body)))


class StubThread:
    """The stub serving on a loop thread of this process."""

    def __init__(self) -> None:
        self.stub = ToolsStub(f"s-{secrets.token_hex(4)}", secrets.token_urlsafe(16), fps=10)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="tools-stub", daemon=True)
        self.thread.start()
        self.server: Any = None
        self.url = self.run(self._start())

    async def _start(self) -> str:
        from websockets.asyncio.server import serve

        self.server = await serve(self.stub.handle, "127.0.0.1", 0, compression=None,
                                  max_size=protocol.MAX_MESSAGE_BYTES)
        return f"ws://127.0.0.1:{next(iter(self.server.sockets)).getsockname()[1]}"

    def run(self, work: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(WAIT)

    def send(self, name: str, body: dict[str, Any]) -> None:
        self.run(self.stub.broadcast(name, body))

    def events(self, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        return [event for event in list(self.stub.received) if event[0].startswith(prefix)]

    def wait_events(self, prefix: str, count: int) -> list[tuple[str, dict[str, Any]]]:
        wait_until(lambda: len(self.events(prefix)) >= count, f"{count} {prefix} event(s)")
        return self.events(prefix)

    def status(self) -> dict[str, Any]:
        async def read() -> dict[str, Any]:
            return self.stub.status()

        status: dict[str, Any] = self.run(read())
        return status

    def close(self) -> None:
        async def stop() -> None:
            self.server.close()
            await self.server.wait_closed()

        self.run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT)
        self.loop.close()


@pytest.fixture(scope="module")
def stub() -> Iterator[StubThread]:
    served = StubThread()
    try:
        yield served
    finally:
        served.close()


@pytest.fixture(scope="module")
def screen_source(stub: StubThread) -> ScreenSource:
    """What test_widget_browser's JupyterLab fixtures point the notebook at: this stub."""
    return ScreenSource(
        relay_url=stub.url, session_id=stub.stub.session_id, token=stub.stub.token, status=stub.status,
        expected_image=viewer_stub.stream_image, hidden=viewer_stub.hidden_in_stream,
        hidden_fill=viewer_stub.HIDDEN_FILL, monitor_count=len(viewer_stub.MONITORS))


# ------------------------------------------------------------------ the page

_MOUNT = """async ([src, state, width]) => {
  const mod = await import(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })));
  const handlers = {};
  const model = {
    get: (k) => state[k],
    set: (k, v) => { state[k] = v; (handlers['change:' + k] || []).forEach((f) => f()); },
    save_changes() {}, send() {},
    on(e, f) { (handlers[e] ||= []).push(f); },
    off(e, f) { handlers[e] = (handlers[e] || []).filter((g) => g !== f); },
  };
  const el = document.createElement('div');
  el.style.width = width + 'px';
  document.body.append(el);
  window.wbView = { model, cleanup: mod.default.render({ model, el }) };
}"""


@pytest.fixture
def page(browser: Any, blank_page_url: str, stub: StubThread) -> Iterator[Any]:  # noqa: F811
    """screen.js and screen.css alone in a page (no Jupyter), 480 CSS px wide, live on the stub."""
    tab = browser.new_page(viewport={"width": 800, "height": 700})
    try:
        tab.goto(blank_page_url)
        tab.add_style_tag(content=SCREEN_JS.with_suffix(".css").read_text())  # as anywidget does
        state = {"relay_url": stub.url, "session_id": stub.stub.session_id, "token": stub.stub.token,
                 "monitor": "all", "zoom": "fit", "max_fps": 40, "can_refresh_token": False}
        tab.evaluate(_MOUNT, [SCREEN_JS.read_text(), state, 480])
        wait_canvas_size(tab.locator(".wb-screen-canvas"), *viewer_stub.DESKTOP_SIZE)
        wait_until(lambda: stub.status()["live_viewers"] == 1, "the page's viewer")
        yield tab
    finally:
        tab.evaluate("() => window.wbView?.cleanup()")
        tab.close()
        wait_until(lambda: stub.status()["live_viewers"] == 0, "no viewer left")
        stub.stub.received.clear()
        stub.stub.marks.clear()


def set_model(page: Any, name: str, value: Any) -> None:
    page.evaluate("([k, v]) => wbView.model.set(k, v)", [name, value])


def client_point(page: Any, x: float, y: float) -> tuple[float, float]:
    """Where stream pixel (x, y) is in the page (CSS px), whatever the zoom and scroll."""
    box = page.evaluate("""() => { const c = document.querySelector('.wb-screen-canvas');
        const b = c.getBoundingClientRect(); return [b.left, b.top, b.width / c.width, b.height / c.height]; }""")
    return box[0] + (x + 0.5) * box[2], box[1] + (y + 0.5) * box[3]


def drag(page: Any, points: list[tuple[float, float]], button: str = "left") -> None:
    """Press at the first stream point, move through the others, release at the last."""
    page.mouse.move(*client_point(page, *points[0]))
    page.mouse.down(button=button)
    for point in points[1:]:
        page.mouse.move(*client_point(page, *point), steps=4)
    page.mouse.up(button=button)


def press_layout_key(page: Any, key: str, code: str) -> None:
    """Press a key of a non-US layout as the browser gets it (Playwright's keyboard knows US keys only)."""
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("Input.dispatchKeyEvent", {"type": "keyDown", "key": key, "code": code, "text": key,
                                            "unmodifiedText": key})
        cdp.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": key, "code": code})
    finally:
        cdp.detach()


def tool(page: Any) -> str:
    return str(page.locator(".wb-screen").get_attribute("data-tool"))


def marks_sent(stub: StubThread, count: int) -> list[dict[str, Any]]:
    return [body["mark"] for _, body in stub.wait_events("annotate.mark", count)]


def close_to(points: list[list[int]], expected: list[tuple[int, int]], slack: int = 1) -> bool:
    return len(points) == len(expected) and all(
        abs(p[0] - e[0]) <= slack and abs(p[1] - e[1]) <= slack for p, e in zip(points, expected, strict=True))


# ------------------------------------------------------------------ tests


def test_marks_go_out_in_desktop_pixels_at_any_zoom_and_monitor(page: Any, stub: StubThread) -> None:
    canvas = page.locator(".wb-screen-canvas")
    assert canvas.evaluate("c => c.getBoundingClientRect().width") == pytest.approx(480)  # half size
    page.mouse.click(*client_point(page, 5, 300))  # focus the view (the view tool does nothing)
    page.keyboard.press("a")
    assert tool(page) == "arrow"

    # Fitted: half size.  The preview shows while the arrow is drawn.
    page.mouse.move(*client_point(page, 100, 100))
    page.mouse.down()
    page.mouse.move(*client_point(page, 300, 200), steps=5)
    assert page.locator(".wb-screen-preview").count() == 1
    page.mouse.up()
    arrow = marks_sent(stub, 1)[0]
    assert (arrow["tool"], arrow["colour"], arrow["width"]) == ("arrow", RED, 4)
    assert close_to(arrow["points"], [(100, 100), (300, 200)]), arrow["points"]
    # Confirmed by the agent, then shown by a frame: the preview goes (the stream shows the mark).
    wait_until(lambda: page.locator(".wb-screen-preview").count() == 0, "the preview to go")

    # 1:1, scrolled sideways: the same stream pixels, wherever they are on the page.
    set_model(page, "zoom", "1:1")
    wait_until(lambda: canvas.evaluate("c => c.getBoundingClientRect().width") == 960, "1:1")
    page.locator(".wb-screen-viewport").evaluate("v => { v.scrollLeft = 400; }")
    page.keyboard.press("p")
    drag(page, [(500, 50), (520, 60), (560, 90)])
    pen = marks_sent(stub, 2)[1]
    assert pen["tool"] == "pen" and close_to([pen["points"][0], pen["points"][-1]], [(500, 50), (560, 90)], 1)
    assert all(0 <= x < 960 and 0 <= y < 360 for x, y in pen["points"])

    # The second monitor (640,0 on the desktop), fitted: its own stream pixels + its origin.
    set_model(page, "zoom", "fit")
    set_model(page, "monitor", 1)
    wait_canvas_size(canvas, 320, 360)
    wait_until(lambda: page.evaluate("() => document.querySelector('.wb-screen-canvas').width") == 320, "monitor 1")
    page.keyboard.press("r")
    page.keyboard.press("4")  # blue
    drag(page, [(10, 20), (110, 120)])
    rect = marks_sent(stub, 3)[2]
    assert (rect["tool"], rect["colour"]) == ("rect", "#1e88e5")
    assert close_to(rect["points"], [(650, 20), (750, 120)]), rect["points"]

    # A click without moving is a slip for the two-point tools: nothing is sent.
    page.mouse.click(*client_point(page, 50, 50))
    assert len(stub.events("annotate.mark")) == 3


def test_text_laser_eraser_undo_and_clear(page: Any, stub: StubThread) -> None:
    page.mouse.click(*client_point(page, 5, 300))
    page.keyboard.press("t")
    page.mouse.click(*client_point(page, 200, 100))
    label = page.locator(".wb-screen-text-input")
    assert label.is_visible()
    page.keyboard.type("Cliquez ici")
    page.keyboard.press("Enter")
    text = marks_sent(stub, 1)[0]
    assert (text["tool"], text["text"]) == ("text", "Cliquez ici") and close_to(text["points"], [(200, 100)])
    assert label.count() == 0 and tool(page) == "text"  # typing did not switch tools

    page.keyboard.press("l")
    drag(page, [(400, 200), (450, 210), (500, 220)])
    def lasers() -> list[dict[str, Any]]:
        return [body["mark"] for _, body in stub.events("annotate.mark") if body["mark"]["tool"] == "laser"]

    wait_until(lambda: lasers() and close_to([lasers()[-1]["points"][-1]], [(500, 220)]), "the laser's last trail")
    assert all(m["id"] not in stub.stub.marks for m in lasers())  # short-lived: the agent fades them

    page.keyboard.press("e")
    drag(page, [(600, 50), (700, 150)])
    ellipse = marks_sent(stub, 1 + len(lasers()) + 1)[-1]
    wait_until(lambda: ellipse["id"] in stub.stub.marks, "the ellipse confirmed")

    # Backspace: undo the newest mark of this view; the eraser removes the one clicked.
    page.keyboard.press("Backspace")
    removed = stub.wait_events("annotate.remove", 1)
    assert removed[-1][1]["id"] == ellipse["id"]
    wait_until(lambda: ellipse["id"] not in stub.stub.marks and page.evaluate(
        "() => !document.querySelector('.wb-screen-marks-info').textContent.startsWith('2')"), "undo seen")
    page.keyboard.press("x")
    page.mouse.click(*client_point(page, 210, 110))  # on the label
    assert stub.wait_events("annotate.remove", 2)[-1][1]["id"] == text["id"]

    page.keyboard.press("p")
    drag(page, [(100, 300), (200, 300)])
    page.keyboard.press("Shift+C")
    stub.wait_events("annotate.clear", 1)
    wait_until(lambda: not stub.stub.marks, "clear")


def test_control_only_when_granted_and_in_desktop_pixels(page: Any, stub: StubThread) -> None:
    button = page.locator(".wb-screen-control")
    assert button.is_disabled()
    page.mouse.click(*client_point(page, 5, 300))
    for key, name in [("p", "pen"), ("a", "arrow"), ("r", "rect"), ("e", "ellipse"), ("h", "highlighter"),
                      ("t", "text"), ("l", "laser"), ("x", "eraser"), ("v", "view")]:
        page.keyboard.press(key)
        assert tool(page) == name
        assert page.locator(f".wb-screen-tool[data-tool={name}]").get_attribute("aria-pressed") == "true"
    page.keyboard.press("2")
    assert page.locator(".wb-screen-colour[aria-pressed=true]").get_attribute("data-colour") == "#fdd835"
    page.mouse.click(*client_point(page, 100, 100))
    assert stub.events("control.") == []  # no control without the grant

    stub.send("screen.control", {"granted": True, "customer_active": False, "resume_in": None})
    wait_until(button.is_enabled, "the Control button enabled")
    button.click()
    assert button.get_attribute("aria-pressed") == "true" and tool(page) == "control"

    # Second monitor, fitted: desktop = stream + (640, 0).
    set_model(page, "monitor", 1)
    wait_until(lambda: page.evaluate("() => document.querySelector('.wb-screen-canvas').width") == 320, "monitor 1")
    stub.stub.received.clear()
    page.mouse.move(*client_point(page, 100, 50), steps=3)
    wait_until(lambda: [b for _, b in stub.events("control.pointer") if b["action"] == "move"
                        and close_to([[b["x"], b["y"]]], [(740, 50)], 1)], "a move at (740, 50)")
    page.mouse.click(*client_point(page, 120, 60))
    page.mouse.click(*client_point(page, 120, 60), button="right")
    page.mouse.wheel(0, 300)
    wait_until(lambda: any(b["action"] == "wheel" for _, b in stub.events("control.pointer")), "the wheel")
    pointer = [b for _, b in stub.events("control.pointer") if b["action"] != "move"]
    assert [(b["action"], b.get("button")) for b in pointer] == [
        ("down", 1), ("up", 1), ("down", 3), ("up", 3), ("wheel", None)]
    assert all(close_to([[b["x"], b["y"]]], [(760, 60)], 1) for b in pointer)
    assert pointer[-1]["dy"] == 3

    # Keys: characters as text (whatever the layout), the rest as keys with their modifiers.
    press_layout_key(page, "é", "Digit2")  # a French keyboard
    press_layout_key(page, "ж", "Semicolon")  # a Russian one
    page.keyboard.press("Control+s")
    page.keyboard.press("Enter")
    keys = stub.wait_events("control.", 1)
    wait_until(lambda: len([e for e in stub.events("control.key") if e[1]["key"] == "Enter"]) == 2, "Enter up")
    typed = [(name, body.get("text") or (body["action"], body["key"], body["modifiers"]))
             for name, body in stub.events("control.") if name != "control.pointer"]
    assert typed == [
        ("control.text", "é"), ("control.text", "ж"),
        ("control.key", ("down", "Control", ["ctrl"])), ("control.key", ("down", "s", ["ctrl"])),
        ("control.key", ("up", "s", ["ctrl"])), ("control.key", ("up", "Control", [])),
        ("control.key", ("down", "Enter", [])), ("control.key", ("up", "Enter", [])),
    ], keys

    # The customer moves their mouse: said in the status line.
    stub.send("screen.control", {"granted": True, "customer_active": True, "resume_in": 2})
    status = page.locator(".wb-screen-status")
    wait_until(lambda: "The customer is using their computer" in (status.text_content() or ""), "the notice")
    stub.send("screen.control", {"granted": True, "customer_active": False, "resume_in": None})
    wait_until(lambda: "The customer is using" not in (status.text_content() or ""), "the notice gone")

    # The customer takes control back while a key is held: control ends, the key is let go.
    page.keyboard.down("Shift")
    wait_until(lambda: stub.events("control.key")[-1][1]["action"] == "down", "Shift down")
    stub.send("screen.control", {"granted": False, "customer_active": False, "resume_in": None})
    wait_until(button.is_disabled, "the Control button disabled")
    assert button.get_attribute("aria-pressed") == "false" and tool(page) == "view"
    last = wait_until(lambda: stub.events("control.key")[-1][1]["action"] == "up" and stub.events("control.key")[-1],
                      "Shift released")
    assert last[1]["key"] == "Shift"
    page.keyboard.up("Shift")
    count = len(stub.events("control."))
    page.mouse.click(*client_point(page, 100, 100))
    assert len(stub.events("control.")) == count


def test_lab_shortcuts_stay_in_the_widget(browser: Any, lab_url: str, stub: StubThread) -> None:  # noqa: F811
    """In JupyterLab the view's keys are its own: A, D D, X do not edit the notebook."""
    tab = browser.new_page(viewport={"width": 1100, "height": 850})
    try:
        open_notebook(tab, lab_url)
        run_cell(tab, 0)
        view = cell(tab, 0)
        canvas = view.locator(".wb-screen-canvas")
        wait_canvas_size(canvas, *viewer_stub.DESKTOP_SIZE)
        cells = tab.locator(".jp-Notebook .jp-Cell").count()
        tab.evaluate("() => jupyterapp.commands.execute('notebook:enter-command-mode')")
        box = canvas.bounding_box()
        scale = box["width"] / viewer_stub.DESKTOP_SIZE[0]
        tab.mouse.click(box["x"] + 5 * scale, box["y"] + 300 * scale)
        assert tab.evaluate("() => document.activeElement.classList.contains('wb-screen')")
        for key in ("a", "d", "d", "x", "b", "m"):
            tab.keyboard.press(key)
        assert view.locator(".wb-screen").get_attribute("data-tool") == "eraser"
        start = len(stub.events("annotate.mark"))
        tab.keyboard.press("a")
        tab.mouse.move(box["x"] + 100 * scale, box["y"] + 100 * scale)
        tab.mouse.down()
        tab.mouse.move(box["x"] + 300 * scale, box["y"] + 200 * scale, steps=5)
        tab.mouse.up()
        mark = stub.wait_events("annotate.mark", start + 1)[-1][1]["mark"]
        assert close_to(mark["points"], [(100, 100), (300, 200)]), mark["points"]
        assert tab.locator(".jp-Notebook .jp-Cell").count() == cells
        assert "ScreenWidget" in (cell(tab, 0).locator(".jp-InputArea").text_content() or "")
        # The same key with the notebook focused is the notebook's: the check above means something.
        tab.evaluate("() => wbTest.panel().content.node.focus()")
        tab.keyboard.press("b")
        wait_until(lambda: tab.locator(".jp-Notebook .jp-Cell").count() == cells + 1, "a cell inserted by B")
    finally:
        tab.close()
