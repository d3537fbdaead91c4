"""The customer's playbook line (``session.playbook``) and the words of a dry run.

``session.playbook`` runs through a real dispatcher and journal (in a dry run
too: it changes nothing on the machine); bad parameters get ``bad_params``;
the window's state keeps one line, worded in English or French.
"""

from __future__ import annotations

import asyncio
import io
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent import preview
from agent.dispatch import Dispatcher, MethodTable
from agent.journal import Journal
from agent.panel import Terms
from agent.panel.console import ConsolePanel
from agent.panel.model import PanelState, PlaybookShown
from agent.panel.playbook_words import playbook_line
from agent.panel.wording import wording_for
from agent.policy import Policy
from agent.preview.words import preview_words
from agent.session import AgentSession, PlaybookStep
from wire import protocol
from wire.errors import WorkbenchError, error_from_wire


class SessionAgent:
    def __init__(self, root: Path) -> None:
        self.journal = Journal(root / "journal.jsonl")
        self.session = AgentSession(self.journal, Policy(), Terms("terms", "terms.en.txt", "0" * 64), "test")
        self.shown: list[PlaybookStep] = []
        self.said: list[str] = []
        self.dispatcher = Dispatcher(MethodTable(self.session.methods(self.shown.append)), self.journal,
                                     Policy(), root / "state", self.said.append, previews=preview.previews())
        self._ids = itertools.count(1)

    def call(self, method: str, *, dry: bool = False, **params: Any) -> Any:
        frame = protocol.encode(protocol.request(f"r{next(self._ids)}", method, params, preview=dry))
        reply = asyncio.run(self.dispatcher.handle(protocol.decode(frame)))
        if reply.type == "error":
            raise error_from_wire(reply.fields)
        return reply["result"]


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[SessionAgent]:
    a = SessionAgent(tmp_path)
    yield a
    a.dispatcher.close()
    a.journal.close()


def test_a_playbook_step_is_shown_and_journaled(agent: SessionAgent) -> None:
    answer = agent.call("session.playbook", name="disk_full", step=3, total=7, title="Empty the trash")
    assert answer == {"shown": "playbook: disk_full — step 3 of 7: Empty the trash"}
    agent.call("session.playbook", dry=True, name="disk_full", step=7, total=7, title="Check", state="done")
    assert [(s.step, s.state) for s in agent.shown] == [(3, "running"), (7, "done")]
    outcomes = [r for r in agent.journal.records if r["kind"] == "outcome"]
    assert [(o["outcome"], o["playbook"], o["step"], o["state"]) for o in outcomes] == [
        ("ok", "disk_full", 3, "running"), ("ok", "disk_full", 7, "done")]
    calls = [r for r in agent.journal.records if r["kind"] == "call"]
    assert calls[0]["words"] == "The technician's playbook: playbook: disk_full — step 3 of 7: Empty the trash"
    assert agent.said == []  # the window's one line says it; the activity feed is not repeated at every step


@pytest.mark.parametrize("params", [
    {"step": 1, "total": 2, "title": "t"},  # no name
    {"name": " ", "step": 1, "total": 2, "title": "t"},
    {"name": "p", "step": -1, "total": 2, "title": "t"},
    {"name": "p", "step": 3, "total": 2, "title": "t"},
    {"name": "p", "step": 1, "total": 0, "title": "t"},
    {"name": "p", "step": True, "total": 2, "title": "t"},
    {"name": "p", "step": 1, "total": 2, "title": 5},
    {"name": "p", "step": 1, "total": 2, "title": "t", "state": "paused"},
])
def test_bad_playbook_parameters_are_refused(agent: SessionAgent, params: dict[str, Any]) -> None:
    with pytest.raises(WorkbenchError) as caught:
        agent.call("session.playbook", **params)
    assert caught.value.code == "bad_params"
    assert agent.shown == []


def test_the_line_is_worded_in_the_window_s_language() -> None:
    english, french = wording_for("en").playbook, wording_for("fr").playbook
    assert playbook_line(english, "browser_proxy", 3, 7, "Close Firefox", "running") == \
        "playbook: browser_proxy — step 3 of 7: Close Firefox"
    assert playbook_line(french, "browser_proxy", 3, 7, "Fermer Firefox", "running") == \
        "procédure : browser_proxy — étape 3 sur 7 : Fermer Firefox"
    assert playbook_line(english, "p", 2, 5, "x", "stopped") == "playbook: p — stopped at step 2 of 5: x"
    assert playbook_line(french, "p", 5, 5, "x", "done") == "procédure : p — terminée (5 étapes)"
    state = PanelState()
    state.apply(PlaybookShown("p", 1, 2, "a", "running"))
    state.apply(PlaybookShown("p", 2, 2, "b", "failed"))
    assert state.playbook == PlaybookShown("p", 2, 2, "b", "failed")  # one line, replaced


def test_the_console_window_prints_the_line(tmp_path: Path) -> None:
    out = io.StringIO()
    panel = ConsolePanel(on_end=lambda: None, journal_path=tmp_path / "j", policy=Policy(), output=out)
    panel.show_playbook("hosts", 1, 4, "Read /etc/hosts", "running")
    assert out.getvalue().rstrip().endswith("playbook: hosts — step 1 of 4: Read /etc/hosts")


@pytest.mark.parametrize(("words", "preview_line"), [
    ("The technician changed the file /etc/hosts", "the technician would change the file /etc/hosts"),
    ("The technician deleted /tmp/x (kept in the agent's trash, it can be restored)",
     "the technician would delete /tmp/x"),
    ("The technician changed the value “Mode” in K to 1 (REG_DWORD); a backup was kept",
     "the technician would change the value “Mode” in K to 1 (REG_DWORD)"),
    ("The technician undid their last registry change", "the technician would undo their last registry change"),
    ("Something else", "the technician would do this: something else"),
])
def test_the_preview_words_come_from_the_method_s_words(words: str, preview_line: str) -> None:
    assert preview_words(words) == f"Preview — nothing was changed: {preview_line}"


def test_a_french_customer_reads_the_preview_in_the_conditional() -> None:
    from agent.panel.catalogue import FRENCH, say

    planned = preview_words(say("files.write", path="/etc/hosts"))
    assert planned == "Preview — nothing was changed: the technician would change the file /etc/hosts"
    assert FRENCH.render(planned) == ("Aperçu — rien n'a été modifié : "
                                      "le technicien aurait modifié le fichier /etc/hosts")
    kept = preview_words(say("registry.delete_value", value="“Mode”", where="K"))
    assert FRENCH.render(kept) == "Aperçu — rien n'a été modifié : le technicien aurait supprimé “Mode” dans K"
