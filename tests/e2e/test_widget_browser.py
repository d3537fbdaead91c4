"""The live-screen widget in a real browser: headless Debian Chromium, real JupyterLab.

What stands on the other end of the widget's websocket is a :class:`ScreenSource`.  Today it
is ``viewer_stub.py`` (a separate process speaking the relay's viewer side of
docs/screen-protocol.md); the real relay with an agent on Xvfb only needs another fixture
returning a :class:`ScreenSource` (see :func:`screen_source`).

Checked: the canvas holds the pixels the source streamed (sampled, within a tolerance for
JPEG), hidden areas are the flat fill with their label, frames are acked, the status line
shows frames/s; frames keep flowing and being acked while another cell sleeps; a second
view, a cleared output, a re-run cell, a hidden tab, a dropped connection and a page reload
each leave exactly the expected number of live viewer connections at the server.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest
from PIL import Image

from tests import requires
from tests.e2e import lab_browser
from workbench.lab import serve_page

playwright_sync = requires.module("playwright.sync_api", "playwright")
expect = playwright_sync.expect

HERE = Path(__file__).parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")  # Debian's; never `playwright install`
pytestmark = [pytest.mark.e2e, pytest.mark.needs(CHROMIUM, "chromium")]

sys.path.insert(0, str(HERE))
import viewer_stub  # noqa: E402

Rect = tuple[int, int, int, int]
Monitor = str | int
NOTEBOOK = "screen.ipynb"
WAIT = 60.0  # generous bound for any awaited condition on a shared 2-core machine


# ------------------------------------------------------------------ what the widget points at


@dataclass
class ScreenSource:
    """The far end of the widget's websocket, as the test sees it.

    For the real relay: *relay_url*/*session_id*/*token* from a paired session
    (``relay.viewer_token``), *status* from the relay (its live viewer count for the session
    and the acks the agent received), *expected_image* from an independent capture of the Xvfb
    screen with the hidden areas filled, *avoid* listing areas that change on their own.
    """

    relay_url: str
    session_id: str
    token: str
    #: -> {"live_viewers": int, "acks_total": int, "connections_total": int, ...}
    status: Callable[[], dict[str, Any]]
    #: The picture a viewer should show for a monitor selection, RGB, in stream px.
    expected_image: Callable[[Monitor], Image.Image]
    #: Hidden areas in stream px for a monitor selection, and their fill colour (RGB).
    hidden: Callable[[Monitor], list[Rect]]
    hidden_fill: tuple[int, int, int]
    monitor_count: int
    #: Areas (stream px) that change by themselves: no pixel is sampled there.
    avoid: list[Rect] = field(default_factory=list)
    #: Max per-channel difference where lossy codecs are used.
    tolerance: int = 12
    #: Drop every viewer connection at the server (tests reconnect); None to skip that step.
    drop_viewers: Callable[[], None] | None = None
    #: Make the customer pause (True) or resume (False) the view; None to skip that step.
    set_paused: Callable[[bool], None] | None = None


def wait_until(condition: Callable[[], Any], what: str, timeout: float = WAIT, interval: float = 0.2) -> Any:
    """Poll *condition* until truthy (bounded); its last value explains a failure."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last value {value!r}")
        time.sleep(interval)


@pytest.fixture(scope="module")
def screen_source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScreenSource]:
    """The viewer stub in its own process (replace with the relay + an agent on Xvfb)."""
    session_id, token = f"s-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    log = tmp_path_factory.mktemp("stub") / "stub.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, str(HERE / "viewer_stub.py"), f"--session={session_id}",
                                 f"--token={token}", "--fps=15"], stdout=subprocess.PIPE, stderr=out, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until READY or exit
        assert line.startswith("READY "), f"stub did not start: {line!r}\n{log.read_text()}"
        url = line.split()[1]
        yield ScreenSource(
            relay_url=url,
            session_id=session_id,
            token=token,
            status=lambda: viewer_stub.query(url),
            expected_image=viewer_stub.stream_image,
            hidden=viewer_stub.hidden_in_stream,
            hidden_fill=viewer_stub.HIDDEN_FILL,
            monitor_count=len(viewer_stub.MONITORS),
            avoid=[viewer_stub.TICKER, (*viewer_stub.COPY_TARGET, *viewer_stub.TICKER[2:])],
            drop_viewers=lambda: viewer_stub.query(url, "drop") and None,
            set_paused=lambda paused: viewer_stub.query(url, "state", body={
                "paused": paused, "hidden_count": 1, "reason": "the customer's choice"}) and None,
        )
    finally:
        proc.terminate()
        proc.wait(10)


def sample_points(source: ScreenSource, monitor: Monitor, step: int = 40) -> list[tuple[int, int]]:
    """Points on a grid, away from areas that change by themselves and from hidden areas."""
    image = source.expected_image(monitor)

    def inside(x: int, y: int, rects: list[Rect], margin: int = 4) -> bool:
        return any(rx - margin <= x < rx + rw + margin and ry - margin <= y < ry + rh + margin
                   for rx, ry, rw, rh in rects)

    return [(x, y) for y in range(step // 2, image.height, step) for x in range(step // 2 + 5, image.width, step)
            if not inside(x, y, source.avoid + source.hidden(monitor))]


def smooth(image: Image.Image, x: int, y: int) -> bool:
    """Whether the 7×7 neighbourhood is one colour (JPEG is only exact-ish away from edges)."""
    box = image.crop((max(0, x - 3), max(0, y - 3), x + 4, y + 4))
    return len(box.getcolors(64) or [None, None]) == 1


# ------------------------------------------------------------------ processes


@pytest.fixture(scope="module")
def reaper() -> Iterator[None]:
    """Adopt this module's orphaned descendants (Chromium's helpers, a kernel) and reap them.

    In a container without an init, processes whose parent exits stay zombies; as a child
    subreaper this test process becomes their parent, so it can wait for them.  Only
    processes that appeared during this module are touched (each by its PID): anything a
    session-wide fixture started before is left alone.
    """
    with lab_browser.subreaper():
        yield


def notebook_cells(source: ScreenSource) -> list[str]:
    args = f"relay_url={source.relay_url!r}, session_id={source.session_id!r}"
    return [
        f"from workbench.widget import ScreenWidget\nw = ScreenWidget({args}, token={source.token!r})\nw",
        "w  # a second view of the same widget",
        "import time\nprint('long step started', flush=True)\n"
        "time.sleep(45)  # a long playbook step (the test interrupts it)",
        f"ScreenWidget({args}, token='not-the-token')",
        "w.close()",
    ]


@contextlib.contextmanager
def jupyter_server(app: str, root: Path, source: ScreenSource) -> Iterator[str]:
    """A real ``jupyter lab`` or ``jupyter notebook`` (7) on a free port with a random token,
    serving the test notebook; yields the notebook's URL."""
    cells = [nbformat.v4.new_code_cell(text) for text in notebook_cells(source)]
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(notebook, root / NOTEBOOK)
    settings = root / "settings"
    notification = settings / "@jupyterlab/apputils-extension/notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text('{"fetchNews": "false", "checkForUpdates": false}')  # no toast over the page
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(root / "cfg"), JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(root / "ws"), JUPYTER_RUNTIME_DIR=str(root / "rt"))
    app_options = (["--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
                    "--LabApp.extension_manager=readonly"] if app == "lab"
                   else ["--JupyterNotebookApp.expose_app_in_browser=True"])  # it has no news_url
    with open(root / "server.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter", app, "--no-browser", "--allow-root", "--ip=127.0.0.1",
             f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
             f"--ServerApp.root_dir={root}", *app_options],
            env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            assert proc.poll() is None, (root / "server.log").read_text()
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                return True
            except OSError:
                return False

        wait_until(up, f"jupyter {app} to answer", interval=0.5)
        path = "lab/tree" if app == "lab" else "notebooks"
        yield f"{base}/{path}/{NOTEBOOK}?token={token}"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture(scope="module")
def lab_url(tmp_path_factory: pytest.TempPathFactory, screen_source: ScreenSource, reaper: None) -> Iterator[str]:
    with jupyter_server("lab", tmp_path_factory.mktemp("lab"), screen_source) as url:
        yield url


@pytest.fixture(scope="module")
def browser(reaper: None) -> Iterator[Any]:
    with playwright_sync.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--disable-gpu", "--disable-sync", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update"])
        try:
            yield chromium
        finally:
            chromium.close()


# ------------------------------------------------------------------ page helpers

# Finds the test notebook among the open documents (the current widget may be a launcher).
_JS_HELPERS = """
window.wbTest = {
  panel() {
    for (const w of jupyterapp.shell.widgets('main')) if (w.context?.path === '%s') return w;
    return null;
  },
  kernel() { return this.panel()?.sessionContext?.session?.kernel ?? null; },
  async run(index, wait) {
    const panel = this.panel();
    jupyterapp.shell.activateById(panel.id);
    panel.content.activeCellIndex = index;
    const done = jupyterapp.commands.execute('notebook:run-cell');
    if (wait) await done;
  },
  clearOutput(index) {
    const panel = this.panel();
    jupyterapp.shell.activateById(panel.id);
    panel.content.activeCellIndex = index;
    return jupyterapp.commands.execute('notebook:clear-cell-output');
  },
};
""".replace("%s", NOTEBOOK)


def open_notebook(page: Any, url: str | None) -> None:
    """Load JupyterLab at *url* (or use the page as it is) and wait for the notebook's kernel."""
    if url is not None:
        page.goto(url)
    page.wait_for_function(
        f"window.jupyterapp && [...jupyterapp.shell.widgets('main')].some("
        f"w => w.context?.path === '{NOTEBOOK}' && w.sessionContext?.session?.kernel)", timeout=WAIT * 1000)
    page.evaluate(_JS_HELPERS)
    page.evaluate("async () => { await wbTest.panel().sessionContext.ready; }")


def cell(page: Any, index: int) -> Any:
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def run_cell(page: Any, index: int, wait: bool = True) -> None:
    page.evaluate("([i, wait]) => wbTest.run(i, wait)", [index, wait])


def canvas_pixels(canvas: Any, points: list[tuple[int, int]]) -> list[tuple[int, ...]]:
    values = canvas.evaluate(
        "(c, pts) => { const g = c.getContext('2d');"
        " return pts.map(([x, y]) => Array.from(g.getImageData(x, y, 1, 1).data.slice(0, 3))); }", points)
    return [tuple(v) for v in values]


def wait_canvas_size(canvas: Any, width: int, height: int) -> None:
    canvas.page.wait_for_function(
        "([c, w, h]) => c.width === w && c.height === h", arg=[canvas.element_handle(), width, height],
        timeout=WAIT * 1000)


def assert_picture(canvas: Any, source: ScreenSource, monitor: Monitor) -> None:
    """The canvas matches the streamed picture at sample points, and hidden areas are the fill."""
    expected = source.expected_image(monitor).convert("RGB")
    wait_canvas_size(canvas, expected.width, expected.height)
    points = [p for p in sample_points(source, monitor) if smooth(expected, *p)]
    assert len(points) >= 20, "too few sample points"
    got = canvas_pixels(canvas, points)
    bad = [(p, g, expected.getpixel(p)) for p, g in zip(points, got, strict=True)
           if max(abs(a - b) for a, b in zip(g, expected.getpixel(p), strict=True)) > source.tolerance]  # type: ignore[arg-type]
    assert not bad, f"{len(bad)}/{len(points)} pixels differ (point, canvas, expected): {bad[:5]}"
    for x, y, w, h in source.hidden(monitor):
        inside = [(x + dx, y + dy) for dx in (1, w // 2, w - 2) for dy in (1, h // 2, h - 2)]
        assert set(canvas_pixels(canvas, inside)) == {source.hidden_fill}, "hidden area is not the flat fill"


def status_fps(page_or_cell: Any) -> float:
    text = page_or_cell.locator(".wb-screen-status").first.text_content() or ""
    found = re.search(r"([\d.]+) fps", text)
    return float(found.group(1)) if found else 0.0


def live_viewers(source: ScreenSource, expected: int, what: str) -> dict[str, Any]:
    status: dict[str, Any] = {}

    def check() -> bool:
        nonlocal status
        status = source.status()
        return status["live_viewers"] == expected

    try:
        wait_until(check, f"{expected} live viewer(s) after {what}")
    except AssertionError as err:
        raise AssertionError(f"{err}; server status {json.dumps(status)}") from None
    return status


# ------------------------------------------------------------------ tests


BLANK_PAGE = "<!doctype html><meta charset=utf-8><title>screen.js</title>"


@pytest.fixture(scope="module")
def blank_page_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty page on a loopback origin: Chromium's local network access checks block
    about:blank (and any public origin) from opening a websocket to 127.0.0.1."""
    with serve_page(tmp_path_factory.mktemp("blank"), BLANK_PAGE, "blank.html") as url:
        yield url


def test_module_in_a_bare_page(browser: Any, screen_source: ScreenSource, blank_page_url: str) -> None:
    """screen.js alone (no Jupyter) with a minimal model: draws, acks, maps coordinates, cleans up."""
    source = screen_source
    module = (Path(__file__).parents[2] / "workbench/static/screen.js").read_text()
    page = browser.new_page(viewport={"width": 800, "height": 700})
    try:
        page.goto(blank_page_url)
        page.evaluate(
            """async ([src, state]) => {
              // Track live timers, so the test can check that the cleanup leaves none.
              const live = new Set();
              const [st, ct, si, ci] = [setTimeout, clearTimeout, setInterval, clearInterval];
              window.setTimeout = (f, ms, ...a) => { const id = st(() => { live.delete(id); f(...a); }, ms);
                                                     live.add(id); return id; };
              window.clearTimeout = (id) => { live.delete(id); ct(id); };
              window.setInterval = (f, ms, ...a) => { const id = si(f, ms, ...a); live.add(id); return id; };
              window.clearInterval = (id) => { live.delete(id); ci(id); };
              window.liveTimers = live;
              const mod = await import(URL.createObjectURL(new Blob([src], {type: 'text/javascript'})));
              const handlers = {};
              const model = {
                get: (k) => state[k],
                set: (k, v) => { state[k] = v; (handlers['change:' + k] || []).forEach((f) => f()); },
                save_changes() {}, send(m) { window.sentToKernel.push(m); },
                on(e, f) { (handlers[e] ||= []).push(f); },
                off(e, f) { handlers[e] = (handlers[e] || []).filter((g) => g !== f); },
              };
              window.sentToKernel = [];
              window.screenModule = mod;
              window.fakeModel = model;
              window.modelHandlers = handlers;
              const el = document.createElement('div');
              el.style.width = '480px';
              document.body.append(el);
              window.cleanup = mod.default.render({ model, el });
            }""",
            [module, {"relay_url": source.relay_url, "session_id": source.session_id, "token": source.token,
                      "monitor": "all", "zoom": "fit", "max_fps": 40, "can_refresh_token": False}])
        canvas = page.locator(".wb-screen-canvas")
        assert_picture(canvas, source, "all")
        assert page.locator(".wb-screen-hidden").first.text_content() == "Hidden by the customer"
        wait_until(lambda: status_fps(page) > 0, "a nonzero fps in the status line")
        # "copy" rects: the stub copies its ticker below itself in every frame, once told we draw them.
        assert source.status()["configures"][-1]["copy"] is True
        tx, ty, tw, th = viewer_stub.TICKER
        cx, cy = viewer_stub.COPY_TARGET
        inside = [(dx, dy) for dx in (1, tw // 2, tw - 2) for dy in (1, th // 2, th - 2)]
        pixels = canvas_pixels(canvas, [(tx + dx, ty + dy) for dx, dy in inside] +
                               [(cx + dx, cy + dy) for dx, dy in inside])
        assert pixels[: len(inside)] == pixels[len(inside):], "the copy rect was not drawn"
        # A scroll by one row as a copy whose source and destination overlap, on a raw picture.
        rows = page.evaluate("""async () => {
            const canvas = document.createElement('canvas');
            const done = [];
            const surface = new screenModule.ScreenSurface(canvas, { onFrameDone: (b) => done.push(b.seq) });
            const bgrx = new Uint8Array(4 * 4 * 4).map((_, i) => (i % 4 === 3 ? 0 : 40 * Math.floor(i / 16) + 1));
            surface.push({ seq: 1, key: true, width: 4, height: 4,
                           rects: [{ x: 0, y: 0, w: 4, h: 4, codec: 'raw', len: bgrx.length }] }, bgrx);
            surface.push({ seq: 2, key: false, width: 4, height: 4,
                           rects: [{ x: 0, y: 0, w: 4, h: 3, codec: 'copy', len: 0, sx: 0, sy: 1 }] },
                         new Uint8Array(0));
            while (done.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
            const data = canvas.getContext('2d').getImageData(0, 0, 4, 4).data;
            return [0, 1, 2, 3].map((row) => data[row * 16]);
        }""")
        assert rows == [41, 81, 121, 121]
        status = live_viewers(source, 1, "render")
        assert status["acks_total"] > 0
        # Fitted to 480 CSS px: the transform maps the canvas box onto stream px, both ways.
        mapped = page.evaluate("""() => {
            const c = document.querySelector('.wb-screen-canvas');
            const t = new screenModule.ViewTransform(c, () => ({x: 100, y: 50}));
            const b = c.getBoundingClientRect();
            const far = t.clientToStream(b.right, b.bottom), back = t.streamToClient(480, 180);
            return [b.width, t.scale, far.x, far.y, back.x - b.left, back.y - b.top,
                    t.streamToDesktop(10, 20).x, t.streamToDesktop(10, 20).y];
        }""")
        width = mapped[0]
        assert mapped[1] == pytest.approx(width / 960)
        assert mapped[2:4] == [pytest.approx(960), pytest.approx(360)]
        assert mapped[4:6] == [pytest.approx(width / 2), pytest.approx(180 * width / 960)]
        assert mapped[6:] == [110, 70]
        # The cleanup closes the socket; nothing reconnects afterwards.
        before = source.status()["connections_total"]
        assert page.evaluate("() => liveTimers.size") > 0  # the stats timer, at least
        page.evaluate("() => window.cleanup()")
        assert page.evaluate("() => liveTimers.size") == 0, "the cleanup left timers running"
        live_viewers(source, 0, "cleanup")
        page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 1500))")  # past any retry delay
        assert source.status()["connections_total"] == before
        assert page.locator(".wb-screen").count() == 0

        # A refused token: the view asks its kernel for a new one and connects with it.
        page.evaluate("""() => {
            window.fakeModel.set('token', 'expired');
            window.fakeModel.set('can_refresh_token', true);
            window.cleanup = screenModule.default.render({ model: fakeModel, el: document.querySelector('div') });
        }""")
        page.wait_for_function("() => sentToKernel.some((m) => m.type === 'refresh_token')", timeout=WAIT * 1000)
        page.evaluate("(token) => fakeModel.set('token', token)", source.token)  # what the kernel does
        live_viewers(source, 1, "a refreshed token")
        page.evaluate("() => window.cleanup()")
        live_viewers(source, 0, "cleanup")
    finally:
        page.close()


@pytest.fixture(scope="module")
def lab_page(browser: Any, lab_url: str) -> Iterator[Any]:
    page = browser.new_page(viewport={"width": 1100, "height": 850})
    open_notebook(page, lab_url)
    try:
        yield page
    finally:
        page.close()


def show_widget(page: Any, source: ScreenSource) -> Any:
    """Make sure cell 0's output is a live view; return its canvas."""
    if cell(page, 0).locator(".wb-screen-canvas").count() == 0:
        run_cell(page, 0)
    live_viewers(source, 1, "showing the widget")
    return cell(page, 0).locator(".wb-screen-canvas")


def test_lab_shows_the_stream(lab_page: Any, screen_source: ScreenSource) -> None:
    page, source = lab_page, screen_source
    before = source.status()["acks_total"]
    canvas = show_widget(page, source)
    view = cell(page, 0)
    assert_picture(canvas, source, "all")
    labels = view.locator(".wb-screen-hidden")
    assert labels.count() == len(source.hidden("all"))
    assert labels.first.text_content() == "Hidden by the customer"
    assert "hidden" in (view.locator(".wb-screen-notice").text_content() or "")
    wait_until(lambda: source.status()["acks_total"] > before, "acks at the server")
    wait_until(lambda: status_fps(view) > 0, "a nonzero fps in the status line")

    if source.set_paused is not None:  # the customer pauses the view: said plainly, then cleared
        notice = view.locator(".wb-screen-notice")
        source.set_paused(True)
        expect(notice).to_contain_text("paused the view", timeout=WAIT * 1000)
        source.set_paused(False)
        expect(notice).not_to_contain_text("paused", timeout=WAIT * 1000)

    # Each monitor on its own, then all side by side again (one monitor: nothing to choose).
    select = view.locator(".wb-screen-monitor")
    wait_until(lambda: select.locator("option").count() == source.monitor_count + 1, "the monitor list")
    assert select.is_enabled() == (source.monitor_count > 1)
    for monitor in [*range(source.monitor_count), "all"] if source.monitor_count > 1 else []:
        select.select_option(str(monitor))
        assert_picture(canvas, source, monitor)
        labels_now = view.locator(".wb-screen-hidden")
        wait_until(lambda m=monitor, ls=labels_now: ls.count() == len(source.hidden(m)), f"labels on {monitor}")

    # 1:1 shows stream pixels at their size; dragging pans.
    view.locator(".wb-screen-zoom").select_option("1:1")
    width = source.expected_image("all").width
    wait_until(lambda: canvas.evaluate("c => c.getBoundingClientRect().width") == width, "1:1 size")
    viewport = view.locator(".wb-screen-viewport")
    if viewport.evaluate("v => v.scrollWidth > v.clientWidth"):
        viewport.evaluate("v => { v.scrollLeft = 0; }")
        box = viewport.bounding_box()
        page.mouse.move(box["x"] + box["width"] - 20, box["y"] + 40)
        page.mouse.down()
        page.mouse.move(box["x"] + 20, box["y"] + 40, steps=5)
        page.mouse.up()
        assert viewport.evaluate("v => v.scrollLeft") > 0
    view.locator(".wb-screen-zoom").select_option("width")
    wait_until(lambda: canvas.evaluate("c => c.getBoundingClientRect().width") < width + 1, "fit again")


def test_lab_streams_while_a_cell_runs(lab_page: Any, screen_source: ScreenSource) -> None:
    """A long cell must not freeze the view: acks keep reaching the server while it runs."""
    page, source = lab_page, screen_source
    show_widget(page, source)
    run_cell(page, 2, wait=False)
    # The kernel's status flickers busy for every widget message; the cell's own state does not.
    running = "() => wbTest.panel().content.widgets[2].model.executionState === 'running'"
    expect(cell(page, 2).locator(".jp-OutputArea-output")).to_contain_text("long step started", timeout=WAIT * 1000)
    assert page.evaluate(running)
    start = source.status()["acks_total"]
    wait_until(lambda: source.status()["acks_total"] >= start + 30, "30 more acks during the long cell")
    assert page.evaluate(running), "the long cell ended before the acks were counted"
    assert status_fps(cell(page, 0)) > 0
    page.evaluate("() => wbTest.kernel().interrupt()")
    page.wait_for_function(f"() => !({running})()", timeout=WAIT * 1000)


def test_lab_leaves_no_stream_behind(lab_page: Any, screen_source: ScreenSource, lab_url: str) -> None:
    page, source = lab_page, screen_source
    show_widget(page, source)

    run_cell(page, 1)  # a second view of the same widget: its own connection
    live_viewers(source, 2, "a second view")
    page.evaluate("() => wbTest.clearOutput(1)")
    live_viewers(source, 1, "clearing the second view's output")

    total = source.status()["connections_total"]
    run_cell(page, 0)  # re-running the cell replaces the widget
    wait_until(lambda: source.status()["connections_total"] > total, "the new widget's connection")
    live_viewers(source, 1, "re-running the cell")

    # A refused token: told plainly, and no retry loop.
    failures = source.status()["auth_failures"]
    run_cell(page, 3)
    refused = cell(page, 3).locator(".wb-screen-status")
    refused.scroll_into_view_if_needed()  # a view connects only once some of it can be seen
    wait_until(lambda: "refused" in (refused.text_content() or ""), "the refusal in the status line")
    assert source.status()["auth_failures"] == failures + 1
    page.evaluate("() => wbTest.clearOutput(3)")

    # Another tab over the notebook hides the view: streaming stops, and resumes when shown.
    page.evaluate("() => jupyterapp.commands.execute('launcher:create')")
    live_viewers(source, 0, "hiding the notebook behind a launcher")
    page.evaluate("() => jupyterapp.shell.activateById(wbTest.panel().id)")
    live_viewers(source, 1, "showing the notebook again")

    if source.drop_viewers is not None:  # the server drops the view: it comes back by itself
        total = source.status()["connections_total"]
        source.drop_viewers()
        wait_until(lambda: source.status()["connections_total"] > total, "a reconnection")
        live_viewers(source, 1, "a dropped connection")
        assert_picture(cell(page, 0).locator(".wb-screen-canvas"), source, "all")

    # Saved with its output, the notebook re-renders the view after a reload: the old page's
    # connection must be gone and exactly one new one live.
    page.evaluate("() => wbTest.panel().context.save()")
    total = source.status()["connections_total"]
    page.reload()
    open_notebook(page, lab_url)
    wait_until(lambda: source.status()["connections_total"] > total, "the restored view's connection")
    live_viewers(source, 1, "reloading the page")

    page.evaluate("() => wbTest.panel().close()")
    live_viewers(source, 0, "closing the notebook")
    page.evaluate(f"() => jupyterapp.commands.execute('docmanager:open', {{path: '{NOTEBOOK}'}})")
    open_notebook(page, None)
    live_viewers(source, 1, "opening the notebook again")
    run_cell(page, 4)  # w.close(): the kernel closes the widget, every view goes
    live_viewers(source, 0, "closing the widget from Python")


def test_notebook7_shows_the_stream(browser: Any, screen_source: ScreenSource, reaper: None,
                                    tmp_path: Path) -> None:
    """The same widget in Notebook 7 (no build, no internet), when `notebook` is installed."""
    requires.module("notebook", "notebook>=7")
    source = screen_source
    with jupyter_server("notebook", tmp_path, source) as url:
        page = browser.new_page(viewport={"width": 1100, "height": 850})
        try:
            open_notebook(page, url)
            canvas = show_widget(page, source)
            assert_picture(canvas, source, "all")
            assert cell(page, 0).locator(".wb-screen-hidden").first.text_content() == "Hidden by the customer"
            wait_until(lambda: status_fps(cell(page, 0)) > 0, "a nonzero fps in the status line")
        finally:
            page.close()
        live_viewers(source, 0, "closing the page")
