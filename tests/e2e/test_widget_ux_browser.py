"""The widget's first minutes in real JupyterLab (headless Debian Chromium): how large the picture
is, full screen, the pop-out panel, what a still screen says, and what is left once the session ends.

The far end is the viewer stub of ``test_widget_tools_browser`` (in this process, so that the test
can make the customer's screen still, grant control and end the session).  Checked:

- fit to window (the default) shows the whole screen inside the view's box and the notebook's
  visible area, where fit to width would not (the page is short on purpose);
- the Full screen button puts the view in ``document.fullscreenElement`` with the picture larger
  and still whole, and takes it out again;
- Pop out opens a new JupyterLab panel (JupyterLab's output view) with a second, live canvas;
- a screen that stops changing reads "Live · idle, screen unchanged since HH:MM:SS", never
  "0.0 fps", and reads frames/s again once it changes;
- once the relay says the session has ended, the drawing tools, colours, undo, clear and
  control are disabled, and their shortcuts and the mouse send nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests import requires
from tests.e2e import lab_browser, viewer_stub
from tests.e2e.test_widget_tools_browser import StubThread
from wire import protocol

requires.module("playwright.sync_api", "playwright")
pytestmark = [pytest.mark.e2e, pytest.mark.needs(lab_browser.CHROMIUM, "chromium")]

NOTEBOOK = "ux.ipynb"
WAIT = 60.0
STREAM = viewer_stub.DESKTOP_SIZE
#: Short on purpose: fit to width would run the 960×360 picture past the notebook's visible area.
PAGE = {"width": 1100, "height": 520}


def wait_until(condition: Any, what: str) -> Any:
    return lab_browser.wait_until(condition, what, timeout=WAIT)


@pytest.fixture(scope="module")
def stub() -> Iterator[StubThread]:
    with lab_browser.subreaper():
        served = StubThread()
        try:
            yield served
        finally:
            served.close()


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory, stub: StubThread) -> Iterator[Any]:
    """JupyterLab with a notebook whose first cell shows a ScreenWidget on the stub."""
    args = f"{stub.url!r}, {stub.stub.session_id!r}, token={stub.stub.token!r}"
    cells = [f"from workbench.widget import ScreenWidget\nw = ScreenWidget({args})\nw"]
    with lab_browser.jupyter_lab(tmp_path_factory.mktemp("lab"), NOTEBOOK, cells) as url, \
            lab_browser.chromium() as browser:
        tab = browser.new_page(viewport=PAGE)
        lab_browser.open_notebook(tab, url, NOTEBOOK)
        tab.evaluate("() => jupyterapp.shell.collapseLeft()")  # the cell as wide as the page allows
        yield tab


def show(page: Any, stub: StubThread) -> Any:
    """A fresh live view in cell 0 (run again), alone at the stub; returns the view's root."""
    stub.stub.still = False
    lab_browser.run_cell(page, 0)
    view = lab_browser.cell(page, 0).locator(".wb-screen")
    canvas = view.locator(".wb-screen-canvas")
    page.wait_for_function("([c, w, h]) => c.width === w && c.height === h",
                           arg=[canvas.element_handle(), *STREAM], timeout=WAIT * 1000)
    wait_until(lambda: stub.status()["live_viewers"] == 1, "one live viewer")
    return view


def box(locator: Any) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None, "not shown"
    return dict(found)


def inside(inner: dict[str, float], outer: dict[str, float], slack: float = 1.0) -> bool:
    return (inner["x"] >= outer["x"] - slack and inner["y"] >= outer["y"] - slack
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack)


def notebook_area(page: Any) -> dict[str, float]:
    """What the notebook shows at once: its scrolling box."""
    return dict(page.evaluate("""() => {
        const b = wbTest.panel().content.node.closest('.jp-WindowedPanel-outer, .jp-Notebook')
            .getBoundingClientRect();
        return { x: b.left, y: b.top, width: b.width, height: b.height }; }"""))


def test_fit_to_window_shows_the_whole_screen(page: Any, stub: StubThread) -> None:
    view = show(page, stub)
    canvas, viewport, zoom = (view.locator(s) for s in (".wb-screen-canvas", ".wb-screen-viewport", ".wb-screen-zoom"))
    assert zoom.input_value() == "fit"
    view.scroll_into_view_if_needed()
    fitted = box(canvas)
    assert inside(fitted, box(viewport)), (fitted, box(viewport))
    assert inside(fitted, notebook_area(page)), (fitted, notebook_area(page))
    assert fitted["width"] / fitted["height"] == pytest.approx(STREAM[0] / STREAM[1], rel=0.01)
    assert viewport.evaluate("v => v.scrollWidth <= v.clientWidth && v.scrollHeight <= v.clientHeight")

    # Fit to width, in the same short page, runs past what the notebook shows: fit-to-window mattered.
    zoom.select_option("width")
    wait_until(lambda: box(canvas)["height"] > fitted["height"] + 10, "a larger picture at fit to width")
    assert box(canvas)["height"] > notebook_area(page)["height"] - (box(view)["height"] - box(canvas)["height"])

    # 75 %: the box stays within the window and scrolls; back to fit, the whole picture again.
    zoom.select_option("0.75")
    wait_until(lambda: box(canvas)["width"] == pytest.approx(STREAM[0] * 0.75, abs=1), "75 %")
    zoom.select_option("fit")
    wait_until(lambda: box(canvas)["height"] == pytest.approx(fitted["height"], abs=1), "fitted again")


def test_full_screen_toggles(page: Any, stub: StubThread) -> None:
    view = show(page, stub)
    canvas, button = view.locator(".wb-screen-canvas"), view.locator(".wb-screen-fullscreen")
    before = box(canvas)
    button.click()
    page.wait_for_function("() => document.fullscreenElement?.classList.contains('wb-screen')",
                           timeout=WAIT * 1000)
    wait_until(lambda: button.text_content() == "Exit full screen", "the button to say how to leave")
    screen = page.evaluate("() => ({ x: 0, y: 0, width: innerWidth, height: innerHeight })")
    wait_until(lambda: box(canvas)["width"] > before["width"] + 10, "a larger picture full screen")
    assert inside(box(canvas), screen), (box(canvas), screen)
    button.click()
    page.wait_for_function("() => document.fullscreenElement === null", timeout=WAIT * 1000)
    wait_until(lambda: button.text_content() == "Full screen", "the button as it was")
    wait_until(lambda: box(canvas)["width"] == pytest.approx(before["width"], abs=1), "the cell's size again")


def test_a_still_screen_reads_idle_and_live(page: Any, stub: StubThread) -> None:
    view = show(page, stub)
    status = view.locator(".wb-screen-status")
    wait_until(lambda: " fps" in (status.text_content() or ""), "frames/s while the screen changes")
    stub.stub.still = True
    idle = re.compile(r"^Live · idle, screen unchanged since \d\d:\d\d:\d\d$")
    text = wait_until(lambda: (t := status.text_content() or "") and idle.match(t) and t, "an idle status")
    assert "0.0 fps" not in text and "latency" not in text
    assert view.locator(".wb-screen-canvas").evaluate("c => c.width") == STREAM[0]  # the picture stays
    stub.stub.still = False
    wait_until(lambda: " fps" in (status.text_content() or ""), "frames/s again once the screen changes")


def test_pop_out_opens_a_panel_with_a_live_canvas(page: Any, stub: StubThread) -> None:
    view = show(page, stub)
    panels_before = page.evaluate("() => [...jupyterapp.shell.widgets('main')].length")
    view.locator(".wb-screen-popout").click()
    wait_until(lambda: page.evaluate("() => [...jupyterapp.shell.widgets('main')].length") == panels_before + 1,
               "a new panel in JupyterLab's main area")
    panel = page.locator(".jp-LinkedOutputView")
    canvas = panel.locator(".wb-screen-canvas")
    page.wait_for_function("([w, h]) => [...document.querySelectorAll('.jp-LinkedOutputView .wb-screen-canvas')]"
                           ".some((c) => c.width === w && c.height === h)", arg=list(STREAM), timeout=WAIT * 1000)
    wait_until(lambda: stub.status()["live_viewers"] == 2, "the panel's own connection")
    status = panel.locator(".wb-screen-status")
    wait_until(lambda: re.match(r"^Live · [\d.]+ fps", status.text_content() or ""), "frames/s in the panel")
    assert panel.locator(".wb-screen-popout").is_hidden()  # it is out already
    assert inside(box(canvas), box(panel.locator(".wb-screen-viewport")))
    closed = page.evaluate("""() => { let n = 0; for (const w of [...jupyterapp.shell.widgets('main')])
        if (w.node.querySelector('.jp-LinkedOutputView') || w.node.classList.contains('jp-LinkedOutputView')) {
          w.close(); n += 1; }
        return n; }""")
    assert closed == 1
    wait_until(lambda: page.evaluate("() => [...jupyterapp.shell.widgets('main')].length") == panels_before,
               "the panel closed")
    wait_until(lambda: stub.status()["live_viewers"] == 1, "the panel's connection closed with it")


def end_session(stub: StubThread) -> None:
    """As the relay does when the session is over: error session_ended to every viewer."""
    message = viewer_stub.send_text(protocol.error(None, {"code": "session_ended", "message": "the session has ended"}))

    async def send() -> None:
        for viewer in list(stub.stub.live.values()):
            await viewer.ws.send(message)

    stub.run(send())


def test_tools_disabled_once_the_session_ends(page: Any, stub: StubThread) -> None:
    view = show(page, stub)
    stub.send("screen.control", {"granted": True})
    control = view.locator(".wb-screen-control")
    wait_until(control.is_enabled, "control offered while granted")
    drawing = view.locator(
        ".wb-screen-tool:not([data-tool='view']), .wb-screen-colour, .wb-screen-undo, .wb-screen-clear")
    assert drawing.count() >= 10
    assert all(drawing.nth(i).is_enabled() for i in range(drawing.count()))

    end_session(stub)
    status = view.locator(".wb-screen-status")
    wait_until(lambda: (status.text_content() or "").startswith("The session has ended."), "the end in words")
    assert not control.is_enabled()
    assert [i for i in range(drawing.count()) if drawing.nth(i).is_enabled()] == []
    assert view.locator(".wb-screen-tool[data-tool='view']").is_enabled()  # looking stays possible
    assert view.locator(".wb-screen-canvas").evaluate("c => c.width") == STREAM[0]  # the last picture stays

    # Neither a shortcut nor a drag marks anything now.
    sent = len(stub.events("annotate."))
    canvas = box(view.locator(".wb-screen-canvas"))
    page.mouse.click(canvas["x"] + 20, canvas["y"] + canvas["height"] - 20)
    page.keyboard.press("p")
    assert view.get_attribute("data-tool") == "view"
    page.mouse.move(canvas["x"] + 100, canvas["y"] + 100)
    page.mouse.down()
    page.mouse.move(canvas["x"] + 200, canvas["y"] + 150, steps=4)
    page.mouse.up()
    lab_browser.input_settled(page)
    assert len(stub.events("annotate.")) == sent
    assert view.locator(".wb-screen-preview").count() == 0
