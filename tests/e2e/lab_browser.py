"""Real JupyterLab in Debian's headless Chromium, for end-to-end tests: the parts every such test needs.

- :func:`subreaper`: adopt and reap the processes a test leaves orphaned (Chromium's helpers,
  kernels) in a container without an init; only those that appeared meanwhile, each by PID.
- :func:`jupyter_lab`: ``jupyter lab`` on a free loopback port with a random token, serving one
  notebook written from a list of cell sources; yields the notebook's URL.
- :func:`chromium`: Playwright's Chromium driving ``/usr/bin/chromium`` (never
  ``playwright install``).
- Page helpers: :func:`open_notebook`, :func:`run_cell`, :func:`cell_running`,
  :func:`interrupt_kernel`, :func:`cell`, and canvas read-back (:func:`canvas_pixels`).
- Input helpers: :func:`canvas_box` (where the canvas is shown, for mapping pointer positions),
  :func:`input_settled` (the page has dispatched the pointer events sent so far), and
  :class:`LayoutKeyboard` (key presses for any character, as a keyboard whose layout has it).
- :func:`wait_until`: bounded polling of a condition, the only way these tests wait.

The recipe and its pitfalls: ``../shared/recipes/README.md``.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import psutil
from playwright.sync_api import Browser, Locator, Page, sync_playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run")
#: A generous bound for any awaited condition on a shared 2-core machine.
WAIT = 45.0

T = TypeVar("T")
Point = tuple[int, int]
RGB = tuple[int, int, int]


def wait_until(condition: Callable[[], T | None], what: str, timeout: float = WAIT, interval: float = 0.2) -> T:
    """Poll *condition* until it returns something truthy, and return that; bounded by *timeout*.

    Raises AssertionError naming *what* and the last value seen.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last value {value!r}")
        time.sleep(interval)


# ------------------------------------------------------------------ processes


@contextlib.contextmanager
def subreaper() -> Iterator[None]:
    """Make this process the reaper of its orphaned descendants for the block, then end and reap
    those that appeared during it (terminate, then kill), each by its PID."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_child_subreaper = 36
    me = psutil.Process()
    before = {child.pid for child in me.children(recursive=True)}
    libc.prctl(pr_set_child_subreaper, 1, 0, 0, 0)
    try:
        yield
    finally:
        ours = [child for child in me.children(recursive=True) if child.pid not in before]
        for child in ours:
            with contextlib.suppress(psutil.Error):
                if child.status() != psutil.STATUS_ZOMBIE:
                    child.terminate()
        _, alive = psutil.wait_procs(ours, timeout=10)
        for child in alive:
            with contextlib.suppress(psutil.Error):
                child.kill()
        psutil.wait_procs(alive, timeout=5)
        libc.prctl(pr_set_child_subreaper, 0, 0, 0, 0)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def jupyter_lab(root: Path, notebook: str, cells: Sequence[str], env: dict[str, str] | None = None) -> Iterator[str]:
    """``jupyter lab`` serving *root*, where *notebook* is written with *cells* (code cells).

    Yields the notebook's URL (token included) once the server answers; stops the server (by
    its PID) afterwards.  The server's output goes to ``root/server.log``.
    """
    document = {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [{"cell_type": "code", "id": f"cell-{i}", "metadata": {}, "execution_count": None, "outputs": [],
                   "source": source} for i, source in enumerate(cells)],
    }
    (root / notebook).write_text(json.dumps(document, indent=1))
    settings = root / "settings"
    notification = settings / "@jupyterlab/apputils-extension/notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True, exist_ok=True)
    notification.write_text('{"fetchNews": "false", "checkForUpdates": false}')  # no toast over the page
    port, token = _free_port(), secrets.token_hex(16)
    server_env = dict(env or os.environ, JUPYTER_CONFIG_DIR=str(root / "cfg"), JUPYTERLAB_SETTINGS_DIR=str(settings),
                      JUPYTERLAB_WORKSPACES_DIR=str(root / "ws"), JUPYTER_RUNTIME_DIR=str(root / "rt"))
    log_path = root / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
             f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
             f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
             "--LabApp.extension_manager=readonly"],
            env=server_env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        def answers() -> bool:
            assert proc.poll() is None, f"jupyter lab ended:\n{log_path.read_text()}"
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    return True
            except OSError:
                return False

        wait_until(answers, "jupyter lab to answer", interval=0.5)
        yield f"{base}/lab/tree/{notebook}?token={token}"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Debian Chromium through Playwright; closed afterwards."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


# ------------------------------------------------------------------ page helpers

# Finds the notebook among the open documents (the current one may be a launcher).
_JS_HELPERS = """
(path) => {
  window.wbTest = {
    panel() {
      for (const w of jupyterapp.shell.widgets('main')) if (w.context?.path === path) return w;
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
    running(index) { return this.panel().content.widgets[index].model.executionState === 'running'; },
  };
}
"""


def open_notebook(page: Page, url: str, notebook: str) -> None:
    """Load JupyterLab at *url* and wait until *notebook* is open with its kernel ready."""
    page.goto(url)
    page.wait_for_function(
        "(path) => window.jupyterapp && [...jupyterapp.shell.widgets('main')].some("
        "w => w.context?.path === path && w.sessionContext?.session?.kernel)", arg=notebook, timeout=WAIT * 1000)
    page.evaluate(_JS_HELPERS, notebook)
    page.evaluate("async () => { await wbTest.panel().sessionContext.ready; }")


def cell(page: Page, index: int) -> Locator:
    """The notebook's cell *index* (0-based)."""
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def run_cell(page: Page, index: int, wait: bool = True) -> None:
    """Run cell *index*; with *wait*, until it finished."""
    page.evaluate("([i, wait]) => wbTest.run(i, wait)", [index, wait])


def cell_running(page: Page, index: int) -> bool:
    """Whether cell *index* is executing now (the cell's own state, not the kernel's busy flag)."""
    return bool(page.evaluate("(i) => wbTest.running(i)", index))


def interrupt_kernel(page: Page) -> None:
    page.evaluate("() => wbTest.kernel().interrupt()")


def cell_text(page: Page, index: int) -> str:
    """The text of cell *index*'s outputs."""
    outputs = cell(page, index).locator(".jp-OutputArea-output")
    return "\n".join(outputs.nth(i).text_content() or "" for i in range(outputs.count()))


def canvas_pixels(canvas: Locator, points: Sequence[Point]) -> list[RGB]:
    """The canvas's RGB values at *points* (canvas pixels, not CSS pixels)."""
    values: list[list[int]] = canvas.evaluate(
        "(c, pts) => { const g = c.getContext('2d');"
        " return pts.map(([x, y]) => Array.from(g.getImageData(x, y, 1, 1).data.slice(0, 3))); }",
        [list(p) for p in points])
    return [(v[0], v[1], v[2]) for v in values]


def canvas_size(canvas: Locator) -> tuple[int, int]:
    width, height = canvas.evaluate("c => [c.width, c.height]")
    return int(width), int(height)


def canvas_box(canvas: Locator) -> tuple[float, float, float, float]:
    """Where *canvas* is shown in the page's viewport: (left, top, width, height) in CSS px, the
    coordinates ``page.mouse`` takes."""
    box = canvas.bounding_box()
    assert box is not None, "the canvas is not shown"
    return box["x"], box["y"], box["width"], box["height"]


def input_settled(page: Page) -> None:
    """Return once the page has dispatched the input sent so far: Chromium hands pointer moves to
    the page aligned with animation frames (and may merge them), so two frames later every move
    sent before this call has reached the page's listeners."""
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


#: ``code`` (the physical key) of characters on a layout that has them: US punctuation, then
#: French AZERTY, German QWERTZ and Russian ЙЦУКЕН keys.
_LAYOUT_CODES: dict[str, str] = {
    " ": "Space", ",": "Comma", ".": "Period", "-": "Minus", ";": "Semicolon", "/": "Slash",
    "é": "Digit2", "è": "Digit7", "à": "Digit0", "ç": "Digit9",
    "ß": "Minus", "ä": "Quote", "ö": "Semicolon", "ü": "BracketLeft",
    "ж": "Semicolon", "э": "Quote", "х": "BracketLeft",
}


class LayoutKeyboard:
    """Key presses for any character, as Chromium reports them from a keyboard whose layout has that
    character on a key: ``keydown`` with ``key`` = the character, then ``keyup``.

    Playwright's ``keyboard.type`` sends key events only for characters of the US layout (for
    others only an ``input`` event, which a non-editable element never gets), and
    ``keyboard.insert_text`` sends no key event at all; a view that turns key events into input
    therefore sees neither.  This goes through the DevTools protocol (``Input.dispatchKeyEvent``),
    as Chromium's own keyboard input does.
    """

    def __init__(self, page: Page) -> None:
        self._cdp = page.context.new_cdp_session(page)

    @staticmethod
    def code(char: str) -> str:
        """The ``code`` Chromium would report for *char*'s key ("" where no layout here has it)."""
        if "a" <= char.lower() <= "z" and char.isascii():
            return f"Key{char.upper()}"
        if char.isdigit() and char.isascii():
            return f"Digit{char}"
        return _LAYOUT_CODES.get(char, "")

    def type(self, text: str) -> None:
        """Press and release one key per character of *text*, in order (no modifier held)."""
        for char in text:
            code = self.code(char)
            self._cdp.send("Input.dispatchKeyEvent",
                           {"type": "keyDown", "key": char, "code": code, "text": char, "unmodifiedText": char})
            self._cdp.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": char, "code": code})

    def close(self) -> None:
        self._cdp.detach()
