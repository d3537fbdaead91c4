"""The customer window on a real X server, clicked from outside like a person would.

A private Xvfb (its display number picked by Xvfb itself), a child process that
opens the real TkPanel the way the agent core does (ask_consent, then run with
an "agent" thread feeding it), and from here: xdotool clicks Accept and End
session through the X server, ImageMagick screenshots the whole screen, and
tesseract reads the activity line off the pixels.

How buttons are found: xdotool finds the top-level window by its unique title;
the child reports where a named widget is (Tk's own ``winfo_root*`` for the
widget path the panel documents, e.g. ``.consent.buttons.accept``); the test
checks that spot lies inside the window's X geometry and clicks its centre
with ``xdotool mousemove --sync … click 1``.  Nothing in the child presses a
button itself: only the X click can.

Set ``PANEL_X11_SCREENSHOT=/some/file.png`` to keep the screenshot showing the
activity line.
"""

from __future__ import annotations

import ctypes
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.e2e.panel_reader import read_widgets

pytestmark = pytest.mark.e2e

BAR_TITLE = "Remote support: session bar"  # agent.panel.wording: ENGLISH.bar_title

#: The child: the panel driven as the agent core drives it, plus a little remote control on stdin.
CHILD = r"""
import sys, threading
from pathlib import Path
from agent.panel import load_terms, open_panel
from agent.policy import Policy

title, journal = sys.argv[1], Path(sys.argv[2])

class Folders:  # the shape of agent.forbidden.ForbiddenFolders the window uses
    def __init__(self): self.paths = ["/home/customer/Private"]
    def add(self, path): self.paths.append(path)
    def remove(self, path): self.paths.remove(path)
    def describe(self): return list(self.paths)
    def __len__(self): return len(self.paths)

def say(line):
    print(line, flush=True)

panel = open_panel(window=True, on_end=lambda: say("on_end called"), journal_path=journal,
                   policy=Policy(forbidden_folders=Folders()), title=title)

def where(path):
    def report():
        try:
            widget = panel.root.nametowidget(path)
        except KeyError:
            say(f"where {path} missing")
            return
        if not widget.winfo_viewable():
            panel.root.after(50, report)  # not drawn yet: ask again
            return
        panel.root.update_idletasks()
        x, y = widget.winfo_rootx(), widget.winfo_rooty()
        say(f"where {path} {x} {y} {widget.winfo_width()} {widget.winfo_height()}")
    panel.call_soon(report)

def remote():
    for line in sys.stdin:
        verb, _, rest = line.rstrip("\n").partition(" ")
        if verb == "where":
            where(rest)
        elif verb == "activity":
            panel.add_activity(rest)
        elif verb == "connected":
            panel.show_connected(rest, "s-e2e")
        elif verb == "ended":
            panel.show_ended(rest)
        elif verb == "close":
            panel.close()

threading.Thread(target=remote, daemon=True).start()
say("ready")
terms = load_terms("en")
accepted = panel.ask_consent(terms.text, terms.name)
say(f"consent {'accepted' if accepted else 'refused'} {panel.accepted_terms.name if accepted else ''}".rstrip())
if not accepted:
    sys.exit(3)  # as the agent does: refused, nothing was connected
threading.Thread(target=lambda: panel.show_code("123456789"), name="agent").start()
panel.run()
say("run returned")
"""


def need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is missing: apt-get install -y {package}")
    return path


def die_with_parent() -> None:
    """In the child: ask Linux to end it if this test process dies (even by SIGKILL or abort)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@pytest.fixture
def display() -> Iterator[str]:
    """A private Xvfb; Xvfb picks a free display number itself (-displayfd), so none is guessed."""
    need("Xvfb", "xvfb")
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        preexec_fn=die_with_parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end) as numbers:
            number = numbers.readline().strip()  # written when the server is ready for clients
        assert number, "Xvfb did not start"
        yield f":{number}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


class Child:
    """The panel process; its stdout lines arrive in a queue, read by a thread."""

    def __init__(self, display: str, tmp_path: Path) -> None:
        self.title = f"Remote support e2e {os.getpid()}-{time.monotonic_ns()}"
        script = tmp_path / "panel_child.py"
        script.write_text(CHILD)
        env = dict(os.environ, DISPLAY=display, PYTHONUNBUFFERED="1", LC_ALL="C.UTF-8")
        self.proc = subprocess.Popen(
            [sys.executable, str(script), self.title, str(tmp_path / "journal.jsonl")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """The next stdout line matching *pattern*; fails on timeout or when the child exits."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"no line matching {pattern!r} within {timeout}s; saw {self.seen}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                stderr = self.proc.stderr.read() if self.proc.stderr else ""
                pytest.fail(f"the panel exited before {pattern!r}; saw {self.seen}; stderr:\n{stderr}")
            self.seen.append(line)
            match = re.fullmatch(pattern, line)
            if match:
                return match

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def child(display: str, tmp_path: Path) -> Iterator[Child]:
    started = Child(display, tmp_path)
    try:
        yield started
    finally:
        started.stop()


def x(display: str, *command: str, timeout: float = 20.0) -> str:
    result = subprocess.run(
        command, env=dict(os.environ, DISPLAY=display), capture_output=True, text=True, timeout=timeout, check=True
    )
    return result.stdout


def window_geometry(display: str, title: str) -> tuple[int, int, int, int, str]:
    """Find the window by its exact title (waiting for it to be mapped); its x, y, width, height, id."""
    need("xdotool", "xdotool")
    window = x(display, "xdotool", "search", "--sync", "--onlyvisible", "--name", f"^{re.escape(title)}$").split()[0]
    shell = dict(
        line.split("=", 1) for line in x(display, "xdotool", "getwindowgeometry", "--shell", window).splitlines()
    )
    return int(shell["X"]), int(shell["Y"]), int(shell["WIDTH"]), int(shell["HEIGHT"]), window


def click_widget(display: str, child: Child, path: str, title: str | None = None) -> None:
    """Click the centre of the widget *path* through the X server (in the window called *title*, by
    default the panel's)."""
    wx, wy, ww, wh, _ = window_geometry(display, title or child.title)
    child.send(f"where {path}")
    found = child.wait_for(rf"where {re.escape(path)} (\d+) (\d+) (\d+) (\d+)")
    bx, by, bw, bh = (int(v) for v in found.groups())
    cx, cy = bx + bw // 2, by + bh // 2
    assert wx <= cx < wx + ww and wy <= cy < wy + wh, "the button is not inside the window"
    x(display, "xdotool", "mousemove", "--sync", str(cx), str(cy), "click", "1")


def screen_text(display: str, shot: Path, area: tuple[int, int, int, int]) -> str:
    """Screenshot the whole X screen, and OCR the window's area of it (enlarged: small text reads better)."""
    need("import", "imagemagick")
    tesseract = need("tesseract", "tesseract-ocr")
    x(display, "import", "-window", "root", str(shot))
    left, top, width, height = area
    enlarged = shot.with_suffix(".ocr.png")
    with Image.open(shot) as screen:
        window = screen.convert("L").crop((left, top, left + width, top + height))
        window.resize((width * 2, height * 2), Image.Resampling.LANCZOS).save(enlarged)
    result = subprocess.run([tesseract, str(enlarged), "-"], capture_output=True, text=True, timeout=60, check=True)
    return " ".join(result.stdout.split())


def read_on_screen(display: str, shot: Path, area: tuple[int, int, int, int], words: str) -> str:
    """Poll the screen (bounded) until OCR reads *words* in *area*; return what it read."""
    deadline, text = time.monotonic() + 30, ""
    while words.lower() not in text.lower():
        assert time.monotonic() < deadline, f"{words!r} never showed on screen; OCR read: {text!r}"
        text = screen_text(display, shot, area)
    return text


def test_accept_activity_and_end_session_on_x11(display: str, child: Child, tmp_path: Path) -> None:
    child.wait_for("ready")
    click_widget(display, child, ".consent.buttons.accept")
    child.wait_for(r"consent accepted terms\.en\.txt")
    child.wait_for(r"session code: 123 456 789")  # the line operators' scripts parse

    wx, wy, ww, wh, _ = window_geometry(display, child.title)
    shot = tmp_path / "panel.png"
    read_on_screen(display, shot, (wx, wy, ww, wh), "123 456 789")  # big, for reading aloud

    child.send("connected Alice Martin")
    child.send("activity The technician read your settings")
    # connected, the window becomes the session bar at the top of the screen; it shows the latest action
    bx, by, bw, bh, _ = window_geometry(display, BAR_TITLE)
    assert bw <= 420 and bh <= 60 and by <= 4
    read_on_screen(display, shot, (bx, by, bw, bh), "Alice Martin")
    # the latest action's smaller text, read from the bar's widget through the X server (Tk's send)
    apps = read_widgets(display, {"latest": ".bar.frame.latest cget -text"})
    assert [values["latest"] for values in apps.values()] == ["The technician read your settings"]
    keep = os.environ.get("PANEL_X11_SCREENSHOT")
    if keep:
        shutil.copyfile(shot, keep)

    click_widget(display, child, ".bar.frame.buttons.end", BAR_TITLE)
    child.wait_for("on_end called")
    child.send("ended You ended the session.")  # what the core answers, then it closes the panel
    child.send("close")
    child.wait_for("run returned")
    assert child.proc.wait(timeout=20) == 0
    assert child.seen.count("on_end called") == 1


def test_refuse_on_x11_starts_nothing(display: str, child: Child) -> None:
    child.wait_for("ready")
    click_widget(display, child, ".consent.buttons.refuse")
    child.wait_for("consent refused")
    assert child.proc.wait(timeout=20) == 3
    rest = child.proc.stdout.read() if child.proc.stdout else ""
    assert "session code" not in " ".join(child.seen) + rest  # no code before consent (C5)
