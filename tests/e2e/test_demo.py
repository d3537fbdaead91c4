"""``scripts/demo`` as a user runs it: a customer desktop on its own screen, four lines at the end,
JupyterLab (in Debian's Chromium) opened on the quickstart by the printed URL, Run All leaving the
live view streaming, a new customer waiting for the next notebook, Ctrl-C ending with status 0 and
no traceback, and the clone as clean as before."""

from __future__ import annotations

import io
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Locator

from tests.e2e.lab_browser import WAIT, canvas_pixels, canvas_size, chromium, subreaper, wait_until
from tests.e2e.panel_reader import bar_on_screen, geometry, overlap
from workbench import connect
from workbench.lab import Proc, python_env

ROOT = Path(__file__).resolve().parents[2]
FOUR_LINES = [r"^Customer screen  DISPLAY=(:\d+) ", r"^Relay            (ws://\S+)$",
              r"^Session code     (\d{3} \d{3} \d{3})  ", r"^JupyterLab       (http://\S+/lab/tree/quickstart\.ipynb\?token=\w+)$"]


def git_status() -> str:
    return subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=all"],
                          capture_output=True, text=True, check=True).stdout


def x_capture(display: str) -> Image.Image:
    """The customer's screen as an independent X client sees it."""
    png = subprocess.run(["import", "-window", "root", "-display", display, "png:-"], capture_output=True,
                         check=True, timeout=60).stdout
    return Image.open(io.BytesIO(png)).convert("RGB")


def xdotool(display: str, *args: str) -> str:
    return subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": display}, capture_output=True, text=True,
                          timeout=30).stdout


def moved_pixels(before: Image.Image, after: Image.Image) -> list[tuple[int, int]]:
    """Grid points where the customer's screen changed between two captures."""
    return [(x, y) for x in range(4, after.width, 12) for y in range(4, after.height, 12)
            if max(abs(a - b) for a, b in zip(before.getpixel((x, y)), after.getpixel((x, y)), strict=True)) > 60]


def view_shows(canvas: Locator, screen: Image.Image, points: list[tuple[int, int]]) -> bool:
    """The canvas shows *screen* at *points* (nearly all of them, within JPEG's tolerance)."""
    if canvas_size(canvas) != screen.size:
        return False
    shown = canvas_pixels(canvas, points)
    close = sum(max(abs(a - b) for a, b in zip(got, screen.getpixel(p), strict=True)) <= 48
                for got, p in zip(shown, points, strict=True))
    return close >= 0.9 * len(points)


def move_and_see(display: str, canvas: Locator, x: int) -> None:
    """Move the editor to *x* on the customer's screen and wait until the view matches an independent capture."""
    before = x_capture(display)
    window = xdotool(display, "search", "--onlyvisible", "--name", "Mousepad$").split()[0]
    xdotool(display, "windowmove", "--sync", window, str(x), "260")
    after = x_capture(display)
    moved = moved_pixels(before, after)
    assert len(moved) > 20, "the move does not show on the customer's screen"
    wait_until(lambda: view_shows(canvas, after, moved), "the live view to show the move")


@pytest.mark.needs("Xvfb", "xvfb")
@pytest.mark.needs("twm", "twm")
@pytest.mark.needs("mousepad", "mousepad")
@pytest.mark.needs("pcmanfm", "pcmanfm")
@pytest.mark.needs("xdotool", "xdotool")
@pytest.mark.needs("chromium", "chromium")
@pytest.mark.needs("import", "imagemagick")
def test_the_demo_as_a_user_runs_it(procs: list[Proc]) -> None:
    status_before = git_status()
    data = ROOT / "demo-data" / f"test-{secrets.token_hex(4)}"  # inside the clone, where git must ignore it
    env = {k: v for k, v in python_env(WORKBENCH_SETUP="skip", WORKBENCH_PYTHON=sys.executable,
                                       PYTHONPATH=str(ROOT)).items() if k != "DISPLAY"}
    from workbench.lab import free_port

    with subreaper():
        # Its own process group, as a terminal's foreground job: Ctrl-C goes to the group.
        demo = Proc([str(ROOT / "scripts" / "demo"), "--port", str(free_port()), "--lab-port", str(free_port()),
                     "--data", str(data)], env=env, name="demo", own_group=True)
        procs.append(demo)
        try:
            found = [demo.wait_for(pattern, timeout=240) for pattern in FOUR_LINES]
            display, relay, code, url = (match.group(1) for match in found)
            last_four = demo.lines[-4:]
            assert [bool(re.match(p, line)) for p, line in zip(FOUR_LINES, last_four, strict=True)] == [True] * 4, \
                demo.lines  # the four lines come last, together
            assert "Traceback" not in "\n".join(demo.lines)

            # A desktop a technician would meet, seen by an independent X client.
            for program in ("mousepad", "pcmanfm", "xterm"):
                wait_until(lambda p=program: xdotool(display, "search", "--onlyvisible", "--classname", p).strip(),
                           f"the {program} window on the customer's screen")

            with chromium() as browser:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(url)
                # The printed URL opens the quickstart itself, not the Launcher.
                page.wait_for_selector(".lm-TabBar-tab.lm-mod-current >> text=quickstart.ipynb", timeout=WAIT * 1000)
                assert page.locator(".jp-Launcher").count() == 0
                page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=WAIT * 1000)
                page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=WAIT * 1000)  # the kernel is ready
                page.locator(".jp-Notebook").first.click()
                page.get_by_role("menuitem", name="Run", exact=True).click()
                page.get_by_text("Run All Cells", exact=True).click()
                page.locator(".jp-OutputArea-output", has_text="The session stays open").wait_for(
                    timeout=180 * 1000)  # the last cell ran
                ran_all_at = time.monotonic()
                # No cell failed (an error is shown as stderr output).
                stderr = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
                assert page.locator(stderr).count() == 0
                canvas = page.locator(".wb-screen-canvas").first
                # The technician scrolls back up to the live view.
                page.locator(".jp-WindowedPanel-outer").first.evaluate("e => { e.scrollTop = 0; }")
                page.locator(".wb-screen-status").first.scroll_into_view_if_needed(timeout=WAIT * 1000)
                page.wait_for_function("c => c.width > 0", arg=canvas.element_handle(), timeout=WAIT * 1000)

                # Still streaming after Run All: each move on the customer's screen reaches the view, which
                # then matches an independent capture of that screen.
                for x in (60, 520):
                    move_and_see(display, canvas, x)
                assert "ended" not in (page.locator(".wb-screen-status").first.text_content() or "").lower()

                # The paired customer's window is now a small session bar at the top of the screen: seen in
                # an independent capture, off the editor the technician works in.
                bar = geometry(display, "--name", "^Remote support: session bar")
                assert bar[2] <= 420 and bar[3] <= 60 and bar[1] <= 4, bar
                editor = geometry(display, "--onlyvisible", "--name", "Mousepad$")
                assert not overlap(bar, editor), (bar, editor)
                assert bar_on_screen(display, data / "bar.png", bar)

                # The next notebook finds its own waiting customer.
                fresh = demo.wait_for(r"A new customer is waiting: session code (\d{3} \d{3} \d{3})").group(1)
                assert fresh != code
                assert (data / "code.txt").read_text().strip() == fresh
                second = connect(fresh, relay=relay, name="second notebook")
                second.ping()
                second.close()

                # A minute after Run All the view is still live: the minute is the scenario, not a wait for
                # an event (nothing happens meanwhile; the session must simply still be streaming).
                time.sleep(max(0.0, 60 - (time.monotonic() - ran_all_at)))
                move_and_see(display, canvas, 200)
                assert "ended" not in (page.locator(".wb-screen-status").first.text_content() or "").lower()
                page.close()

            os.killpg(demo.popen.pid, signal.SIGINT)  # Ctrl-C at the terminal
            assert demo.wait(120) == 0, "\n".join(demo.lines)
            assert "Traceback" not in "\n".join(demo.lines), "\n".join(demo.lines)
            assert not Path(f"/tmp/.X11-unix/X{display[1:]}").exists()  # the screen went with it
        finally:
            if demo.popen.poll() is None:
                os.killpg(demo.popen.pid, signal.SIGTERM)
                demo.wait(60)
            assert git_status() == status_before  # the notebooks' work copies and downloads are not in the tracked tree
            shutil.rmtree(data, ignore_errors=True)
