"""What the customer is told about retention (R7), and their own copy of the journal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.panel.opener import save_copy
from agent.panel.wording import WORDINGS
from relay.retention import CLASSES, default_policy


@pytest.mark.parametrize("language", sorted(WORDINGS))
def test_every_data_class_of_the_policy_has_words_in_every_language(language: str) -> None:
    words = WORDINGS[language]
    assert set(words.retention_classes) == set(CLASSES)  # a class the relay adds must be worded here too
    told = words.retention_text(default_policy().told_to_customers().items())
    for name in CLASSES:
        assert name not in told and name.replace("_", " ") not in told  # worded, not the class's code


def test_the_french_line_has_no_english_words() -> None:
    told = WORDINGS["fr"].retention_text([("recordings", "90d"), ("journals", "forever")])
    assert told.startswith("Le service d'assistance conserve")
    assert "pendant 90 jours" in told and "sans limite de durée" in told
    assert not any(word in told for word in ("days", "recording", "journal of", "keeps"))


def test_the_policy_is_told_as_days_or_forever() -> None:
    told = default_policy().told_to_customers()
    assert set(told) == set(CLASSES)
    assert all(period == "forever" or (period.endswith("d") and period[:-1].isdigit()) for period in told.values())


def test_a_saved_copy_is_whole_and_leaves_nothing_behind(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    journal.write_bytes(b'{"seq":1}\n' * 1000)
    target = tmp_path / "mine" / "copy.jsonl"
    target.parent.mkdir()
    save_copy(journal, target)
    assert target.read_bytes() == journal.read_bytes()
    assert os.listdir(target.parent) == ["copy.jsonl"]


def test_a_copy_that_cannot_be_written_raises_and_leaves_nothing(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    journal.write_bytes(b"x\n")
    with pytest.raises(OSError):
        save_copy(journal, tmp_path / "no such folder" / "copy.jsonl")
    with pytest.raises(OSError):
        save_copy(tmp_path / "missing.jsonl", tmp_path / "copy.jsonl")
    assert sorted(os.listdir(tmp_path)) == ["journal.jsonl"]
