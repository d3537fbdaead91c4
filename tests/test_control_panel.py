"""The customer window's control button: grant, take back, and the state whoever changed it.

The Tk window runs in a child process on a private Xvfb: Tk keeps its X connection for
the life of the process, so a window opened in the test process would outlive its server.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests import requires
from workbench.lab import Xvfb

CHILD = r'''
import gc, io, json, sys
from pathlib import Path
from agent.panel import load_terms
from agent.panel.sections import PermissionsSection
from agent.panel.window import ACCEPT_WIDGET, TkPanel
from agent.policy import Permissions, Policy

BUTTON = ".session.side.sections.permissions.control_button"
HINT = ".session.side.sections.permissions.control_hint"
ANSWER = ".session.side.sections.permissions.control"
results = {}


def open_panel(policy, on_control, language="en"):
    panel = TkPanel(on_end=lambda: None, journal_path=Path("journal.jsonl"), policy=policy, output=io.StringIO(),
                    on_control=on_control)
    terms = load_terms(language)
    panel.root.after(50, lambda: panel.root.nametowidget(ACCEPT_WIDGET).invoke())
    assert panel.ask_consent(terms.text, terms.name)
    return panel


def text(panel, path):
    return str(panel.root.nametowidget(path).cget("text"))


def grant_and_take_back():
    policy, chosen = Policy(), []

    def on_control(granted):  # what ControlService.grant / revoke do to the policy
        chosen.append(granted)
        policy.permissions.control = granted

    panel = open_panel(policy, on_control)
    seen = [text(panel, BUTTON), text(panel, HINT)]
    panel.root.nametowidget(BUTTON).invoke()
    seen += [text(panel, BUTTON), text(panel, ANSWER), text(panel, HINT)]
    panel.root.nametowidget(BUTTON).invoke()
    seen += [text(panel, BUTTON)]
    panel.close()
    return {"seen": seen, "chosen": chosen}


def allowed_then_hotkey():
    policy = Policy(permissions=Permissions(control=True))  # --allow-control
    panel = open_panel(policy, lambda granted: None)
    seen = [text(panel, BUTTON)]
    policy.permissions.control = False  # the hotkey, on the agent's thread
    for section in panel._sections:
        if isinstance(section, PermissionsSection):
            section.refresh()  # what the window does every second
    seen.append(text(panel, BUTTON))
    panel.close()
    return {"seen": seen}


def disabled_when_ended():
    chosen = []
    panel = open_panel(Policy(), chosen.append)
    panel.show_ended("The technician ended the session.")
    panel.root.after(300, panel.root.quit)
    panel.root.mainloop()  # the window draws the end
    disabled = panel.root.nametowidget(BUTTON).instate(["disabled"])
    panel.root.nametowidget(BUTTON).invoke()
    panel.close()
    return {"disabled": disabled, "chosen": chosen}


def no_callback():
    panel = open_panel(Policy(), None)
    children = sorted(panel.root.nametowidget(".session.side.sections.permissions").children)
    panel.close()
    return {"children": children}


def french():
    panel = open_panel(Policy(), lambda granted: None, language="fr")
    seen = [text(panel, BUTTON), text(panel, HINT)]
    panel.close()
    return {"seen": seen}


for scenario in (grant_and_take_back, allowed_then_hotkey, disabled_when_ended, no_callback, french):
    results[scenario.__name__] = scenario()
    gc.collect()  # free each Tk interpreter here, in its own thread
print(json.dumps(results))
'''


@pytest.fixture(scope="module")
def window() -> Iterator[dict[str, Any]]:
    requires.tool("Xvfb", "xvfb")
    xvfb = Xvfb()
    try:
        done = subprocess.run([sys.executable, "-c", CHILD], env=xvfb.env(LANG="C.UTF-8"), capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        yield json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        xvfb.stop()


def test_the_button_grants_and_takes_back_through_the_callback(window: dict[str, Any]) -> None:
    result = window["grant_and_take_back"]
    assert result["chosen"] == [True, False]
    before, hint_before, after, answer, hint_after, again = result["seen"]
    assert before == again == "Let the technician use my mouse and keyboard"
    assert "can only watch" in hint_before
    assert after == "Take back control" and answer == "Allowed"
    assert "press Pause or Ctrl+Alt+Shift+Space" in hint_after


def test_the_window_shows_allow_control_and_a_hotkey_take_back(window: dict[str, Any]) -> None:
    assert window["allowed_then_hotkey"]["seen"] == ["Take back control",
                                                    "Let the technician use my mouse and keyboard"]


def test_the_button_is_disabled_once_the_session_ended(window: dict[str, Any]) -> None:
    assert window["disabled_when_ended"] == {"disabled": True, "chosen": []}


def test_no_button_without_a_callback(window: dict[str, Any]) -> None:
    assert "control_button" not in window["no_callback"]["children"]
    assert "control" in window["no_callback"]["children"]  # the state is still shown


def test_french_wording(window: dict[str, Any]) -> None:
    button, hint = window["french"]["seen"]
    assert button == "Laisser le technicien utiliser ma souris et mon clavier"
    assert "seulement regarder" in hint
