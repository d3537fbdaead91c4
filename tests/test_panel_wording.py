"""The agent core's status and end lines reach a French window in French."""

from __future__ import annotations

import re
from pathlib import Path

from agent.app import END_WORDS, RECORDED_STATUS
from agent.panel.wording import ENGLISH, FRENCH

APP = Path(__file__).resolve().parent.parent / "agent" / "app.py"


def core_lines() -> set[str]:
    """Every line agent/app.py hands the window's show_status / show_ended as it is."""
    source = APP.read_text(encoding="utf-8")
    status = re.search(r"def _on_status.*?words = \{(.*?)\}", source, re.S)
    assert status is not None, "agent/app.py's _on_status no longer has its words table"
    table = set(re.findall(r'"[a-z]+": "([^"]+)"', status.group(1)))
    return set(END_WORDS.values()) | set(RECORDED_STATUS.values()) | table


def test_every_core_line_has_its_french() -> None:
    lines = core_lines()
    assert len(lines) >= 4
    assert lines <= set(FRENCH.core_lines), lines - set(FRENCH.core_lines)
    assert all(FRENCH.core_line(line) != line for line in lines)


def test_english_and_unknown_lines_are_shown_as_they_are() -> None:
    assert ENGLISH.core_line("Connected to the support service.") == "Connected to the support service."
    assert FRENCH.core_line("The session has ended (relay_restart).") == "The session has ended (relay_restart)."
