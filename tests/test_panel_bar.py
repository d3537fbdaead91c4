"""The session bar, the customer's language in the feed, and a line updated in place: the real TkPanel
in this process, on the private Xvfb of tests/test_panel.py."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from agent.panel import load_terms
from agent.panel.bar import (
    BAR_END_WIDGET,
    BAR_LATEST_WIDGET,
    BAR_OPEN_WIDGET,
    BAR_STATE_WIDGET,
    BAR_WHO_WIDGET,
    BAR_WIDGET,
)
from agent.panel.catalogue import Bytes, say
from tests.test_panel import Harness, harness, x_display  # noqa: F401  (the fixtures; tests name them: F811 below)

MIB = 1024 * 1024


def accept_in(h: Harness, language: str) -> None:
    from agent.panel.window import ACCEPT_WIDGET

    terms = load_terms(language)
    h.later(lambda: h.widget(ACCEPT_WIDGET).invoke())
    assert h.panel.ask_consent(terms.text, terms.name) is True


def run_agent(h: Harness, agent: Callable[[], None], look: Callable[[], None]) -> None:
    """*agent* in another thread, as the core calls the panel; then *look* on the UI thread, then close."""

    def thread() -> None:
        agent()
        h.panel.call_soon(look)
        h.panel.call_soon(h.panel.close)

    threading.Thread(target=thread).start()
    h.panel.run()


def test_french_window_says_the_feed_in_french_and_updates_a_transfer_line_in_place(
        harness: Callable[..., Harness]) -> None:  # noqa: F811
    h = harness()
    accept_in(h, "fr")
    seen: dict[str, Any] = {}

    def agent() -> None:
        h.panel.show_code("123456789")
        h.panel.add_activity(say("inventory.collect"))
        h.panel.update_activity("call:r2", say("files.download_open", path="/home/ana/big.iso"))
        for done in (4, 8, 12):
            h.panel.update_activity("call:r2", say("transfer.download.progress", path="/home/ana/big.iso",
                                                   done=Bytes(done * MIB), size=Bytes(16 * MIB)))
        h.panel.add_activity(say("session.ping"))
        h.panel.update_activity("call:r2", say("transfer.download.done", path="/home/ana/big.iso",
                                               size=Bytes(16 * MIB)))
        h.panel.add_activity("a line from elsewhere, shown as it is")

    def look() -> None:
        seen["log"] = h.log_text()
        seen["state"] = [line for _, line in h.panel.state.activity]

    run_agent(h, agent, look)
    lines = [line.split("  ", 1)[1] for line in seen["log"].splitlines()]
    assert lines == [
        "Le technicien a lu les informations de votre système",
        "Le technicien a copié le fichier /home/ana/big.iso depuis votre ordinateur : terminé, 16,0 Mio",
        "Le technicien a vérifié que la connexion fonctionne",
        "a line from elsewhere, shown as it is",
    ]
    assert seen["state"] == lines  # the model and the widget agree


def test_connected_the_window_becomes_a_small_bar_on_top_and_opens_on_demand(
        harness: Callable[..., Harness]) -> None:  # noqa: F811
    h = harness()
    accept_in(h, "en")
    seen: dict[str, Any] = {}

    def agent() -> None:
        h.panel.show_code("123456789")
        h.panel.show_connected("Alice Martin", "s-42")
        h.panel.show_status("Connected. This session is recorded.")
        h.panel.add_activity(say("files.read", path="/etc/app/settings.ini"))

    def look() -> None:
        h.root.update()
        bar = h.widget(BAR_WIDGET)
        seen["bar_viewable"] = bool(bar.winfo_viewable())
        seen["root_viewable"] = bool(h.root.winfo_viewable())
        seen["geometry"] = (bar.winfo_rootx(), bar.winfo_rooty(), bar.winfo_width(), bar.winfo_height())
        seen["screen"] = (bar.winfo_screenwidth(), bar.winfo_screenheight())
        seen["override"] = bool(bar.overrideredirect())
        seen["who"] = str(h.widget(BAR_WHO_WIDGET).cget("text"))
        seen["state"] = str(h.widget(BAR_STATE_WIDGET).cget("text"))
        seen["latest"] = str(h.widget(BAR_LATEST_WIDGET).cget("text"))
        h.widget(BAR_OPEN_WIDGET).invoke()  # open the full window
        h.root.update()
        seen["opened"] = bool(h.root.winfo_viewable())
        seen["button"] = str(h.widget(BAR_OPEN_WIDGET).cget("text"))
        h.widget(BAR_OPEN_WIDGET).invoke()  # and back to the bar
        h.root.update()
        seen["collapsed"] = not h.root.winfo_viewable()
        h.widget(BAR_END_WIDGET).invoke()
        seen["ended_calls"] = h.ended

    run_agent(h, agent, look)
    assert seen["bar_viewable"] and not seen["root_viewable"]  # the full window collapsed into the bar
    x, y, width, height = seen["geometry"]
    screen_width, _ = seen["screen"]
    assert width <= 420 and height <= 60
    assert y == 0 and abs((x + width / 2) - screen_width / 2) <= 1  # top centre, out of the screen's middle
    assert seen["override"]
    assert seen["who"] == "Alice Martin is connected"
    assert seen["state"] == "Session recorded · view only"
    assert seen["latest"].startswith("The technician read the file /etc/app")
    assert seen["opened"] and seen["button"] == "Hide window" and seen["collapsed"]
    assert seen["ended_calls"] == 1  # End session on the bar ends it like the window's button


def test_ended_the_bar_goes_and_the_full_window_says_why(harness: Callable[..., Harness]) -> None:  # noqa: F811
    h = harness()
    accept_in(h, "fr")
    seen: dict[str, Any] = {}

    def agent() -> None:
        h.panel.show_code("123456789")
        h.panel.show_connected("Alice", "s-1")
        h.panel.show_ended("The technician ended the session.")

    def look() -> None:
        h.root.update()
        seen["bar"] = BAR_WIDGET.lstrip(".") in h.root.children
        seen["root"] = bool(h.root.winfo_viewable())
        seen["log"] = h.log_text()

    run_agent(h, agent, look)
    assert not seen["bar"] and seen["root"]
    assert seen["log"].endswith("Séance terminée : Le technicien a mis fin à la séance.")
