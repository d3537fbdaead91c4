"""The customer hides a window, then a whole monitor, from the real agent's window on X11 (issue 13, 14).

Every part is real: a two-monitor Xvfb (:mod:`tests.two_monitors`), a painter window titled
"Bank statement" in a colour nothing else has, on monitor 0; a relay; the real agent program
with its Tk window (``agent.cli.main``, consent given with ``--accept-terms``) in a child
process, and a technician's ``Session`` here.  The customer's clicks are X clicks (xdotool) on
the widgets the window documents (``agent.panel.hiding``; the full window opened from the session
bar, ``agent.panel.bar``); the child only *reports* where a
widget or a list line is (Tk's ``winfo_root*`` and ``bbox``), as tests/e2e/test_panel_x11.py
does, and never presses anything itself.

Checked: during the session, "Hide a window…" lists the painter; choosing it fills it in the
technician's ``s.screenshot()`` (and nothing of its colour leaves) and the technician is told
that the customer hid part of their screen; "Hide a monitor…" then fills monitor 1; "Show
again" shows the window again.  Each choice is in the journal (``hide_window``,
``hide_monitor``, ``show_window``) without the window's title.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.e2e.x11tools import run_x
from tests.two_monitors import MONITOR, two_monitor_xvfb
from workbench import connect
from workbench.lab import Proc, python_env, start_relay

pytestmark = [pytest.mark.e2e, pytest.mark.needs("Xvfb", "xvfb"), pytest.mark.needs("xdotool", "xdotool"),
              pytest.mark.needs("xrandr", "x11-xserver-utils")]

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import screen_x  # noqa: E402

WAIT = 60.0
TITLE = "Bank statement"
SECRET = (0x13, 0xE7, 0x5B)
SECRET_BOX = (1500, 760, 360, 240)  # on monitor 0, away from the agent's window (top left)
FILL = (48, 48, 48)
SECTION = ".session.side.sections.hiding"
PICKER = ".hide_picker"

#: The real agent, plus a reporter of widget places, asked through a named pipe (it never clicks).
CHILD = r"""
import os, sys, threading
from agent import cli
from agent.app import AgentApp

holder = {}
_init = AgentApp.__init__
def init(self, config):
    _init(self, config)
    holder["app"] = self
AgentApp.__init__ = init

def say(line):
    print(line, flush=True)

def report(verb, path, index):
    panel = holder["app"].panel
    root = panel.root
    def answer():
        try:
            widget = root.nametowidget(path)
        except KeyError:
            say(f"{verb} {path} missing")
            return
        if not widget.winfo_viewable():
            root.after(50, answer)
            return
        root.update_idletasks()
        x, y = widget.winfo_rootx(), widget.winfo_rooty()
        if verb == "items":
            say(f"items {path} " + "\t".join(widget.get(0, "end")))
        elif verb == "line":
            bx, by, bw, bh = widget.bbox(int(index))
            say(f"line {path} {x + bx} {y + by} {bw} {bh}")
        else:
            say(f"where {path} {x} {y} {widget.winfo_width()} {widget.winfo_height()}")
    panel.call_soon(answer)

def remote():
    for line in open(os.environ["AGENT_REMOTE"], encoding="utf-8"):
        verb, path, index = (line.split() + ["", "", ""])[:3]
        if "app" in holder:
            report(verb, path, index)

threading.Thread(target=remote, daemon=True).start()
sys.exit(cli.main(sys.argv[1:]))
"""


class Customer(Proc):
    """The agent with its window (a :class:`Proc` whose stdin is the remote that says where widgets are)."""

    def __init__(self, display: str, relay_url: str, data: Path) -> None:
        script = data / "agent_child.py"
        script.write_text(CHILD)
        self.display, self.data = display, data
        fifo = data / "remote"
        os.mkfifo(fifo)
        super().__init__([sys.executable, str(script), "--relay", relay_url, "--data", str(data / "agent"),
                          "--accept-terms", "--window", "--lang", "en"],
                         env=python_env(DISPLAY=display, LANG="C.UTF-8", AGENT_REMOTE=str(fifo)), name="agent")
        self.code = self.wait_for(r"session code: (\d{3} \d{3} \d{3})", timeout=WAIT).group(1)
        # The child's reader opened the pipe before the agent started: this open does not block.
        self._remote = open(fifo, "w", encoding="utf-8", buffering=1)  # noqa: SIM115  (closed in stop())

    def ask(self, line: str, answer: str) -> re.Match[str]:
        self._remote.write(line + "\n")
        self._remote.flush()
        return self.wait_for(answer, timeout=WAIT)

    def click_at(self, x: int, y: int) -> None:
        run_x(self.display, "xdotool", "mousemove", "--sync", str(x), str(y), "click", "1")

    def click(self, path: str) -> None:
        found = self.ask(f"where {path}", rf"where {re.escape(path)} (-?\d+) (-?\d+) (\d+) (\d+)")
        x, y, w, h = (int(v) for v in found.groups())
        self.click_at(x + w // 2, y + h // 2)

    def choose(self, path: str, label_start: str) -> None:
        """Click the line of list *path* that starts with *label_start* (the list may still be filling)."""
        labels: list[str] = []
        for _attempt in range(200):
            labels = self.ask(f"items {path}", rf"items {re.escape(path)} ?(.*)").group(1).split("\t")
            index = next((i for i, label in enumerate(labels) if label.startswith(label_start)), None)
            if index is not None:
                break
        else:
            raise AssertionError(f"{label_start!r} never listed in {path}: {labels}")
        found = self.ask(f"line {path} {index}", rf"line {re.escape(path)} (-?\d+) (-?\d+) (\d+) (\d+)")
        x, y, w, h = (int(v) for v in found.groups())
        self.click_at(x + min(w, 60) // 2, y + h // 2)

    def journal(self) -> list[dict[str, Any]]:
        path = next((self.data / "agent" / "journals").glob("*.jsonl"))
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def stop(self, timeout: float = 10.0) -> int:
        with contextlib.suppress(OSError):
            self._remote.close()
        return super().stop(timeout)


@pytest.fixture
def customer(tmp_path: Path) -> Iterator[tuple[Customer, str]]:
    with two_monitor_xvfb() as display:
        x, y, w, h = SECRET_BOX
        fill = "#" + "".join(f"{c:02x}" for c in SECRET)
        painter = screen_x.Painter(display, "--title", TITLE, "--fill", fill, "--geometry", f"{w}x{h}+{x}+{y}")
        relay, url = start_relay(tmp_path / "relay")
        try:
            agent = Customer(display, url, tmp_path)
            try:
                yield agent, url
            finally:
                agent.stop()
        finally:
            relay.stop()
            painter.close()


def shot(session: Any, monitor: str | int = "all") -> np.ndarray:
    return np.asarray(session.screenshot(monitor=monitor).convert("RGB"))


def has(pixels: np.ndarray, colour: tuple[int, int, int]) -> bool:
    """Whether any pixel is near *colour* (PNG is lossless; the tolerance is for the X server's depth)."""
    return bool(np.any(np.all(np.abs(pixels.astype(np.int16) - colour) <= 8, axis=-1)))


def test_the_customer_hides_a_window_then_a_monitor_from_the_window(customer: tuple[Customer, str]) -> None:
    agent, url = customer
    session = connect(agent.code, relay=url, name="tech")
    try:
        assert has(shot(session), SECRET)  # before: the technician sees the statement

        # Connected, the window is the session bar; the customer opens the full window from it.
        agent.click(".bar.frame.buttons.open")

        # A window, chosen in the picker.
        agent.click(f"{SECTION}.hide_window")
        agent.choose(f"{PICKER}.list", TITLE)
        agent.click(f"{PICKER}.buttons.hide")
        agent.ask(f"items {SECTION}.list", rf"items {re.escape(SECTION)}.list Window: {TITLE}")
        whole = shot(session)
        assert not has(whole, SECRET)
        x, y, w, h = SECRET_BOX
        assert np.all(whole[y : y + h, x : x + w] == FILL)
        assert not np.all(whole[:, MONITOR[0]:] == FILL)  # monitor 1 is still shown

        # A whole monitor: monitor 1, as the technician numbers it.
        agent.click(f"{SECTION}.hide_monitor")
        agent.choose(f"{PICKER}.list", "Monitor 1 ")
        agent.click(f"{PICKER}.buttons.hide")
        agent.ask(f"items {SECTION}.list", rf"items {re.escape(SECTION)}.list Window: {TITLE}\tMonitor 1 ")
        right = shot(session, 1)
        assert np.all(right == FILL)
        assert np.all(shot(session)[:, MONITOR[0]:] == FILL)

        # Show the window again: it is the first line of the list.
        agent.choose(f"{SECTION}.list", "Window: ")
        agent.click(f"{SECTION}.show")
        agent.ask(f"items {SECTION}.list", rf"items {re.escape(SECTION)}.list Monitor 1 \S+$")
        assert has(shot(session), SECRET)
    finally:
        session.close()
    agent.wait(30)
    records = agent.journal()
    changes = [r["change"] for r in records if r["kind"] == "policy" and r.get("by") == "customer (window)"]
    assert changes == ["hide_window", "hide_monitor", "show_window"]
    assert not any(TITLE in json.dumps(r) for r in records)  # the title stays on the customer's screen
