"""The real agent with its window on a real X server: consent clicked, activity shown, session ended."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.panel_reader import read_widgets
from tests.e2e.x11tools import click_colour, click_words, need, run_x, wait_for_words
from wire.chain import read_records
from workbench import SessionEnded, connect
from workbench.lab import Proc, Xvfb

END_BUTTON_RED = (0xB3, 0x26, 0x1E)


@pytest.fixture
def xvfb() -> Iterator[Xvfb]:
    need("Xvfb", "xvfb")
    screen = Xvfb(1280, 1024)
    try:
        yield screen
    finally:
        screen.stop()


def test_customer_accepts_sees_activity_and_ends(xvfb: Xvfb, relay: tuple[Proc, str, Path], procs: list[Proc],
                                                 tmp_path: Path) -> None:
    _, url, _ = relay
    agent = Proc([sys.executable, "-m", "agent.cli", "--relay", url, "--data", str(tmp_path / "agent"), "--window",
                  "--lang", "en"], env=xvfb.env(), name="agent")
    procs.append(agent)
    run_x(xvfb.display, "xdotool", "search", "--sync", "--onlyvisible", "--name", "Remote support")
    shot = tmp_path / "screen.png"
    wait_for_words(xvfb.display, shot, "Accept")
    assert not (tmp_path / "agent" / "journals").exists()  # nothing recorded, nothing connected before Accept
    click_words(xvfb.display, shot, "Accept")
    code = agent.wait_for(r"session code: (\d{3} \d{3} \d{3})").group(1)

    s = connect(code, relay=url, name="Alice Martin")
    s.inventory()
    # paired, the window is the session bar: who (read off the screen), and the latest action (cut to the
    # bar's width; its smaller text read from the widget through the X server, Tk's send)
    wait_for_words(xvfb.display, shot, "Alice Martin")
    deadline = time.monotonic() + 30
    while True:
        latest = read_widgets(xvfb.display, {"latest": ".bar.frame.latest cget -text"})
        shown = [str(values["latest"]) for values in latest.values()]
        if len(shown) == 1 and shown[0].startswith("The technician read your system"):
            break
        assert time.monotonic() < deadline, latest

    click_colour(xvfb.display, shot, END_BUTTON_RED)  # the bar's "End session", white on red
    assert agent.wait(30) == 0
    with pytest.raises(SessionEnded):
        s.call("session.ping", timeout=10)
    (journal,) = (tmp_path / "agent" / "journals").glob("*.jsonl")
    records = read_records(journal)
    assert records[0]["kind"] == "consent" and records[0]["how"] == "accepted in the customer window"
    assert records[-1]["kind"] == "session_end" and records[-1]["by"] == "customer"
