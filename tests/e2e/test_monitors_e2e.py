"""Input lands where the technician pointed, on the second of two monitors (issue 14, finding 9).

Every part is real: a two-monitor Xvfb (3840×1080, monitors 0 and 1 side by side, see
:mod:`tests.two_monitors`) running :mod:`input_recorder` over both monitors, a relay, a fresh
agent started with ``--allow-control``, a technician's ``Session`` in this process, and the
widget's own ``screen.js`` in headless Chromium, mounted with the traits of the *first* view
the session opens, ``s.screen(monitor=1)``.  Its very first request is for monitor 1, sent
while the fresh agent opens its first stream: the case where the agent used to keep streaming
the whole desktop under the label "monitor 1", so a click landed 1,920 px to the right.

Checked: the view shows monitor 1 (a 1920×1080 picture, "Monitor 1" selected, frames naming
monitor 1 at x = 1920), and clicks made on its canvas in control mode reach the recorder, as
X delivered them, at the desktop pixel under the pointer; ``s.screenshot(monitor=1)`` is that
monitor.  (The race itself is made certain in tests/test_screen_monitors.py; here it is the
whole path.)  Waits are bounded polls; nothing asserts a duration.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import input_recorder
from tests.e2e.test_widget_browser import WAIT, blank_page_url, browser, reaper, wait_until  # noqa: F401
from tests.two_monitors import MONITOR, two_monitor_xvfb
from workbench import connect
from workbench.lab import Proc, python_env, start_agent, start_relay

pytestmark = [pytest.mark.e2e, pytest.mark.needs("Xvfb", "xvfb"), pytest.mark.needs("xrandr", "x11-xserver-utils")]

SCREEN_JS = Path(__file__).parents[2] / "workbench" / "static" / "screen.js"
#: Where the view is clicked, in stream px of monitor 1 (desktop: 1920 to the right).
CLICKS = ((300, 400), (1700, 120), (25, 1000))

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
  window.wbFrames = [];
  window.wbView = { model, cleanup: mod.default.render({ model, el }) };
}"""


class Customer:
    """The two-monitor display, the recorder over both monitors, a relay and a fresh agent."""

    def __init__(self, display: str, data: Path) -> None:
        self.display = display
        env = python_env(DISPLAY=display, LANG="C.UTF-8")
        self.recorder = Proc([sys.executable, str(Path(input_recorder.__file__)), str(2 * MONITOR[0]),
                              str(MONITOR[1])], env=env, name="input_recorder")
        self.recorder.wait_for('"t": "ready"', timeout=WAIT)
        self.relay, self.url = start_relay(data / "relay")
        self.agent, self.code = start_agent(self.url, data / "agent", "--allow-control", env=env)

    def presses(self) -> list[tuple[int, int]]:
        events = [json.loads(line) for line in self.recorder.lines if line.startswith("{")]
        return [(e["x"], e["y"]) for e in events if e["t"] == "down" and e["b"] == 1]

    def stop(self) -> None:
        for proc in (self.agent, self.relay, self.recorder):
            proc.stop()


@pytest.fixture(scope="module")
def customer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Customer]:
    with two_monitor_xvfb() as display:
        running = Customer(display, tmp_path_factory.mktemp("monitors"))
        try:
            yield running
        finally:
            running.stop()


def client_point(page: Any, x: float, y: float) -> tuple[float, float]:
    """Where stream pixel (x, y) is in the page (CSS px), whatever the fit."""
    box = page.evaluate("""() => { const c = document.querySelector('.wb-screen-canvas');
        const b = c.getBoundingClientRect(); return [b.left, b.top, b.width / c.width, b.height / c.height]; }""")
    return box[0] + (x + 0.5) * box[2], box[1] + (y + 0.5) * box[3]


def test_the_first_view_on_the_second_monitor_clicks_where_pointed(
        customer: Customer, browser: Any, blank_page_url: str) -> None:  # noqa: F811
    session = connect(customer.code, relay=customer.url, name="tech")
    page = browser.new_page(viewport={"width": 2000, "height": 1300})
    try:
        widget = session.screen(monitor=1)  # the session's first view, on a fresh agent
        state = {"relay_url": widget.relay_url, "session_id": widget.session_id, "token": widget.token,
                 "monitor": widget.monitor, "zoom": "fit", "max_fps": 40, "can_refresh_token": False}
        assert state["monitor"] == 1
        page.goto(blank_page_url)
        page.add_style_tag(content=SCREEN_JS.with_suffix(".css").read_text())
        page.evaluate(_MOUNT, [SCREEN_JS.read_text(), state, 1920])

        # The view shows monitor 1: its size, the selector, and (kept by the view) the frames' origin.
        page.wait_for_function("() => { const c = document.querySelector('.wb-screen-canvas');"
                               " return c && c.width === 1920 && c.height === 1080; }", timeout=WAIT * 1000)
        select = page.locator(".wb-screen-monitor")
        wait_until(lambda: select.locator("option").count() == 3, "both monitors listed")
        assert select.input_value() == "1"
        assert (select.locator("option:checked").text_content() or "").startswith("Monitor 1 ")

        button = page.locator(".wb-screen-control")
        wait_until(button.is_enabled, "control granted (--allow-control)")
        button.click()
        for x, y in CLICKS:
            before = len(customer.presses())
            page.mouse.click(*client_point(page, x, y))
            landed = wait_until(lambda b=before: customer.presses()[b:], f"the click at ({x}, {y}) on monitor 1")
            # The desktop pixel under the pointer: monitor 1's origin (1920, 0) plus the stream pixel.
            lx, ly = landed[0]
            assert abs(lx - (MONITOR[0] + x)) <= 1 and abs(ly - y) <= 1, (landed, (x, y))

        # A picture of that monitor alone, from a notebook cell.
        shot = session.screenshot(monitor=1)
        assert shot.size == MONITOR
    finally:
        page.evaluate("() => window.wbView?.cleanup()")
        page.close()
        session.close()


def test_hide_monitor_on_the_command_line(customer: Customer, tmp_path: Path) -> None:
    """``workbench-agent --hide-monitor 1``: the second monitor is filled in every screenshot, journaled."""
    import numpy as np

    from agent.screen.hidden import FILL_BGRA

    env = python_env(DISPLAY=customer.display, LANG="C.UTF-8")
    agent, code = start_agent(customer.url, tmp_path / "agent", "--hide-monitor", "1", env=env)
    try:
        session = connect(code, relay=customer.url, name="tech")
        try:
            fill = np.array(FILL_BGRA[2::-1], dtype=np.uint8)
            whole = np.asarray(session.screenshot().convert("RGB"))
            assert whole.shape[:2] == (MONITOR[1], 2 * MONITOR[0])
            assert np.all(whole[:, MONITOR[0]:] == fill) and not np.all(whole[:, : MONITOR[0]] == fill)
            assert np.all(np.asarray(session.screenshot(monitor=1).convert("RGB")) == fill)
            assert not np.all(np.asarray(session.screenshot(monitor=0).convert("RGB")) == fill)
        finally:
            session.close()
        agent.wait(30)
    finally:
        agent.stop()
    journal = next((tmp_path / "agent" / "journals").glob("*.jsonl"))
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    assert any(r.get("kind") == "policy" and r.get("change") == "hide_monitor" and r.get("monitor") == 1
               for r in records), records[:6]


def test_hide_monitor_refuses_a_monitor_this_machine_lacks(customer: Customer, tmp_path: Path) -> None:
    """``--hide-monitor 2`` on two monitors (someone counting from 1): refused before anything connects."""
    env = python_env(DISPLAY=customer.display, LANG="C.UTF-8")
    proc = Proc([sys.executable, "-m", "agent.cli", "--relay", customer.url, "--data", str(tmp_path / "a"),
                 "--accept-terms", "--no-window", "--hide-monitor", "2"], env=env, name="agent")
    assert proc.wait(60) == 2
    assert any("cannot hide monitor 2" in line and "numbered 0 to 1" in line for line in proc.lines), proc.lines
    assert not any(line.startswith("session code") for line in proc.lines)
