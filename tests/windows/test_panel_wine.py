"""The customer's window of the Windows download, under Wine, looked at and clicked as a person would.

``workbench-agent.cmd`` is started without ``--accept-terms`` (what a double-click does): the Tk
consent window must show before anything is connected; xdotool clicks Accept on the Wine Xvfb; the
session window must then show the code, the technician and the End button, in French and in English.
The screen is captured by ImageMagick and read by tesseract, independently of the agent (the tools
of tests/e2e/x11tools.py, as tests/e2e/test_agent_window.py uses them on Linux).

Once paired, the window is the small session bar at the top of the screen, found by its title with
xdotool; its End session button ends the session.

What Wine cannot prove: the look of Windows' own fonts and DPI scaling (Wine draws Tk with its own
fonts, without a window manager's frame), focus-stealing rules, whether ``-topmost`` keeps the bar
above a full-screen application on a real desktop (Wine has no desktop compositor here), and
SmartScreen's prompt on first run; those need a real Windows 10/11 machine.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.e2e.x11tools import click_colour, click_words, need, run_x, screenshot, wait_for_words, words_on_screen
from tests.windows.wine import WineHost, windows_path
from wire.chain import read_records
from workbench import connect
from workbench.lab import Proc

END_BUTTON_RED = (0xB3, 0x26, 0x1E)  # agent/panel/views.py END_COLOUR: white on red, read by colour

#: What each language's window says: (consent words, Accept's label, the code's headline, after
#: pairing: the session bar's who and latest action). The grey status line is too faint for OCR:
#: tests/test_panel_wording.py checks its French.
#: Only tesseract's English model is installed: it reads "à" as "a", so the French phrases avoid accents.
WORDS = {
    "fr": ("lisez ces conditions", "Accepter", ("Lisez ce code", "votre technicien"),
           ("Martin vous assiste", "lu les information")),  # cut to the bar's width
    "en": ("please read these terms", "Accept", ("Read this code", "to your technician"),
           ("Martin is connected", "read your system")),
}
#: The session bar's title (agent.panel.wording: bar_title), as xdotool finds it (its regex is ASCII).
BAR_TITLES = {"fr": "^Assistance ", "en": "^Remote support: session bar"}


def wait_for_all(display: str, shot: Path, phrases: list[str], timeout: float = 60.0) -> None:
    """Poll the screen (bounded) until one OCR pass reads every phrase (one pass: OCR is slow)."""
    deadline = time.monotonic() + timeout
    while True:
        text = " ".join(word[0].lower() for word in words_on_screen(display, shot))
        missing = [phrase for phrase in phrases if phrase.lower() not in text]
        if not missing:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{missing} never showed on screen; OCR read: {text!r}")


def wait_for_in_area(display: str, shot: Path, box: tuple[int, int, int, int], phrases: list[str],
                     timeout: float = 60.0) -> None:
    """Poll (bounded) until OCR of the screen's *box* (x, y, width, height), enlarged, reads every phrase."""
    tesseract = need("tesseract", "tesseract-ocr")
    deadline, text = time.monotonic() + timeout, ""
    while True:
        x, y, width, height = box
        area = screenshot(display, shot).convert("L").crop((x, y, x + width, y + height))
        area.resize((width * 3, height * 3), Image.Resampling.LANCZOS).save(shot.with_suffix(".area.png"))
        text = " ".join(subprocess.run([tesseract, str(shot.with_suffix(".area.png")), "-"], capture_output=True,
                                       text=True, timeout=60, check=True).stdout.split()).lower()
        missing = [phrase for phrase in phrases if phrase.lower() not in text]
        if not missing:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{missing} never showed in {box}; OCR read: {text!r}")


def wait_for_consent(display: str, shot: Path, phrase: str, agent: Proc, timeout: float = 240.0) -> None:
    """Poll (bounded) until OCR reads the consent window's *phrase*; fail at once, with the launcher's
    output, if the launcher ended first.

    The bound is generous: on a fresh, loaded machine, a second Wine start of Python and Tk in the same
    prefix has been seen to take over 90 s (the screen stayed empty; the launcher said nothing).
    """
    deadline = time.monotonic() + timeout
    while True:
        if agent.popen.poll() is not None:
            pytest.fail(f"the launcher ended (status {agent.popen.returncode}) before its consent window showed; "
                        "output:\n" + "\n".join(agent.lines))
        try:
            wait_for_words(display, shot, phrase, timeout=0)
            return
        except pytest.fail.Exception as missing:
            if time.monotonic() > deadline:
                pytest.fail(f"{missing}\nthe launcher is still running; its output:\n" + "\n".join(agent.lines))


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_customer_accepts_in_the_window_and_reads_the_code(wine_host: WineHost, relay: tuple[Proc, str, Path],
                                                               procs: list[Proc], tmp_path: Path,
                                                               lang: str) -> None:
    consent_words, accept, waiting, connected = WORDS[lang]
    _, url, _ = relay
    data = tmp_path / "agent"
    agent = wine_host.start_launcher("--relay", url, "--data", windows_path(data), "--lang", lang)
    procs.append(agent)
    display, shot = wine_host.xvfb.display, tmp_path / "screen.png"

    wait_for_consent(display, shot, consent_words, agent)
    assert not (data / "journals").exists()  # nothing recorded, nothing connected before Accept (C5)
    assert not any("session code" in line for line in agent.lines)
    click_words(display, shot, accept)
    code = agent.wait_for(r"^session code: (\d{3} \d{3} \d{3})$", timeout=60).group(1)
    wait_for_all(display, shot, [*waiting, code])  # the code big, for reading aloud

    s = connect(code, relay=url, name="Alice Martin")
    s.inventory()
    # Paired, the window is a small bar at the top of the screen (Tk's -topmost under Windows) that says
    # who is connected and the core's latest activity line.
    bar = run_x(display, "xdotool", "search", "--sync", "--name", BAR_TITLES[lang]).split()[0]
    shape = dict(line.split("=", 1) for line in run_x(display, "xdotool", "getwindowgeometry", "--shell",
                                                       bar).splitlines())
    box = (int(shape["X"]), int(shape["Y"]), int(shape["WIDTH"]), int(shape["HEIGHT"]))
    assert box[2] <= 420 and box[3] <= 60 and box[1] <= 4, shape
    wait_for_in_area(display, shot, box, list(connected))

    click_colour(display, shot, END_BUTTON_RED)  # End session, on the bar: visible (white on red) under Windows too
    assert agent.wait(60) == 0
    (journal,) = (data / "journals").glob("*.jsonl")
    records = read_records(journal)
    assert records[0]["kind"] == "consent" and records[0]["how"] == "accepted in the customer window"
    assert records[0]["terms"] == f"terms.{lang}.txt", records[0]
    assert records[-1]["kind"] == "session_end" and records[-1]["by"] == "customer"
