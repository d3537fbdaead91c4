"""Our side of the click benchmark in the browser: the live-screen widget alone in a bare page.

The page is served on a loopback origin (Chromium's local network access checks keep
``about:blank`` from opening a websocket to 127.0.0.1), and workbench/static/screen.js is
imported into it as an ES module (with its stylesheet) and rendered with a minimal stand-in for the anywidget
model, as tests/e2e/test_widget_browser.py does: no JupyterLab, no kernel.

Instrumentation, all on the page's clock (``performance.timeOrigin + performance.now()``,
milliseconds since the epoch, which Chromium derives from the system's wall clock and a
monotonic clock; :func:`clock_offset` checks it against ``time.time_ns()``):

- ``benchLog.down``: the time each ``pointerdown`` reaches the page (a capture listener on
  ``window``, which runs before the widget's own);
- ``benchLog.sent``: the time around each ``ws.send`` of a ``control.pointer`` press
  (``WebSocket.prototype.send`` wrapped), i.e. when the press left the page.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parent.parent
MODULE = ROOT / "workbench" / "static" / "screen.js"
STYLE = ROOT / "workbench" / "static" / "screen.css"  # the widget's own (anywidget's _css): the fit to width
#: A generous bound for the page's awaited conditions on a shared 2-core machine.
WAIT_MS = 60_000

_INSTRUMENT = """
() => {
  const now = () => performance.timeOrigin + performance.now();
  window.benchLog = { down: [], sent: [] };
  window.addEventListener('pointerdown', () => benchLog.down.push(now()), { capture: true });
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (typeof data === 'string' && data.includes('"control.pointer"') && data.includes('"action":"down"')) {
      const before = now();
      const result = send.call(this, data);
      benchLog.sent.push([before, now()]);
      return result;
    }
    return send.call(this, data);
  };
}
"""

_RENDER = """
async ([src, css, state, width]) => {
  const style = document.createElement('style');
  style.textContent = css;
  document.head.append(style);
  const mod = await import(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })));
  const handlers = {};
  const model = {
    get: (k) => state[k],
    set: (k, v) => { state[k] = v; (handlers['change:' + k] || []).forEach((f) => f()); },
    save_changes() {},
    send() {},
    on(e, f) { (handlers[e] ||= []).push(f); },
    off(e, f) { handlers[e] = (handlers[e] || []).filter((g) => g !== f); },
  };
  const el = document.createElement('div');
  el.style.width = width + 'px';
  document.body.style.margin = '0';
  document.body.append(el);
  window.benchCleanup = mod.default.render({ model, el });
}
"""


@contextlib.contextmanager
def blank_page() -> Iterator[str]:
    """An empty page on 127.0.0.1 (a thread of this process); yields its URL."""

    class Blank(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><meta charset=utf-8><title>click bench</title>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Blank)
    thread = threading.Thread(target=server.serve_forever, name="blank-page", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def open_widget(page: Page, page_url: str, relay_url: str, session_id: str, token: str, width: int) -> None:
    """Load the bare page, instrument it, and render the widget *width* CSS px wide, fitted."""
    page.goto(page_url)
    page.evaluate(_INSTRUMENT)
    state = {"relay_url": relay_url, "session_id": session_id, "token": token, "monitor": "all", "zoom": "fit",
             "max_fps": 40, "can_refresh_token": False}
    page.evaluate(_RENDER, [MODULE.read_text(), STYLE.read_text(), state, width])


def wait_for_picture(page: Page, width: int, height: int) -> None:
    """Until the canvas has the desktop's size (the first frame arrived)."""
    page.wait_for_function("([w, h]) => { const c = document.querySelector('.wb-screen-canvas');"
                           " return c && c.width === w && c.height === h; }", arg=[width, height], timeout=WAIT_MS)


def control_on(page: Page, timeout_ms: int) -> None:
    """Wait for the customer's grant (the Control button enabled), then toggle control on.

    Raises playwright's TimeoutError when the agent never says ``screen.control`` granted.
    """
    button = page.locator(".wb-screen-control")
    page.wait_for_function("() => { const b = document.querySelector('.wb-screen-control');"
                           " return b && !b.disabled; }", timeout=timeout_ms)
    button.click()
    page.wait_for_function("() => document.querySelector('.wb-screen-control')"
                           ".getAttribute('aria-pressed') === 'true'", timeout=WAIT_MS)
    reset_log(page)


def customer_active(page: Page) -> bool:
    """Whether the widget says the customer has priority (their input suspends ours)."""
    text = page.locator(".wb-screen-status").first.text_content() or ""
    return "The customer is using their computer" in text


def canvas_box(page: Page) -> tuple[float, float, float, float]:
    """The canvas's (left, top, width, height) in CSS px of the page."""
    box = page.locator(".wb-screen-canvas").bounding_box()
    if box is None:
        raise RuntimeError("the widget's canvas is not shown")
    return box["x"], box["y"], box["width"], box["height"]


def log(page: Page) -> tuple[list[float], list[list[float]]]:
    """(pointerdown times, [before, after] ws.send of each press), page clock, ms since the epoch."""
    down, sent = page.evaluate("() => [benchLog.down, benchLog.sent]")
    return [float(t) for t in down], [[float(a), float(b)] for a, b in sent]


def reset_log(page: Page) -> None:
    """Forget what the page logged so far (the click on the Control button, warm-up clicks)."""
    page.evaluate("() => { benchLog.down.length = 0; benchLog.sent.length = 0; }")


def clock_offset(page: Page, samples: int = 40) -> tuple[float, float]:
    """The page's clock minus ``time.time_ns()``, in ms, and the uncertainty (± ms).

    Each sample reads the page's clock between two readings of ours; the one with the
    shortest round trip is kept, and its half round trip bounds the error.
    """
    best: tuple[float, float] | None = None
    for _ in range(samples):
        before = time.time_ns()
        theirs = float(page.evaluate("() => performance.timeOrigin + performance.now()"))
        after = time.time_ns()
        half = (after - before) / 2e6
        offset = theirs - (before + after) / 2e6
        if best is None or half < best[1]:
            best = (offset, half)
    assert best is not None
    return best
