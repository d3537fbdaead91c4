"""The replay widget in real JupyterLab, in Chromium: play, click a mark, the canvas shows that moment.

The session is the committed training recording (notebooks/training/data, recorded by
scripts/record-training-session with a real relay and agent on Xvfb).  The canvas is read back
and compared with ``frame_at`` of the same time, computed here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Locator

from tests.e2e import lab_browser as lab
from workbench import recordings

pytestmark = [pytest.mark.e2e, pytest.mark.needs("chromium", "chromium")]

DATA = Path(__file__).resolve().parents[2] / "notebooks" / "training" / "data"


def shown_time(canvas: Locator) -> float:
    """The recording time the canvas shows (the view writes it when it draws a frame)."""
    return float(canvas.evaluate("c => c.dataset.time ?? '-1'"))


def test_replay_plays_and_a_clicked_mark_shows_its_moment(tmp_path: Path) -> None:
    shutil.copytree(DATA, tmp_path / "data")
    (session,) = [p.name for p in (tmp_path / "data" / "sessions").iterdir()]
    r = recordings.open(tmp_path / "data", session)
    write = next(e for e in r.events if e.name == "files.write")
    cells = ["from workbench import recordings\n"
             f"r = recordings.open('data', {session!r})\n"
             "w = r.widget()\nw"]
    with lab.subreaper(), lab.jupyter_lab(tmp_path, "replay.ipynb", cells) as url, lab.chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        lab.open_notebook(page, url, "replay.ipynb")
        lab.run_cell(page, 0)
        canvas = page.locator(".wb-replay-canvas")
        lab.wait_until(lambda: shown_time(canvas) >= 0, "the first frame drawn")
        start = shown_time(canvas)
        # Play at 8×: the canvas moves on, frame after frame, without Python doing anything.
        page.locator(".wb-replay-speed").select_option("8")
        page.locator(".wb-replay-play").click()
        lab.wait_until(lambda: shown_time(canvas) > start + 2, "the replay to play on")
        page.locator(".wb-replay-play").click()  # pause
        # Click the journal's files.write mark: the canvas shows the screen at that time.
        marks = page.locator(".wb-replay-mark-call")
        times = [float(marks.nth(i).get_attribute("data-t") or -1) for i in range(marks.count())]
        index = min(range(len(times)), key=lambda i: abs(times[i] - write.t))
        marks.nth(index).click()
        lab.wait_until(lambda: abs(shown_time(canvas) - times[index]) < 1e-3, "the canvas at the mark's time")
        expected = np.asarray(r.frame_at(times[index]))
        assert lab.canvas_size(canvas) == (expected.shape[1], expected.shape[0])
        points = [(x, y) for x in range(20, expected.shape[1], 97) for y in range(15, expected.shape[0], 83)]
        got = lab.canvas_pixels(canvas, points)
        want = [tuple(int(c) for c in expected[y, x]) for x, y in points]
        assert got == want
        page.close()
