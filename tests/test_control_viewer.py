"""agent.control.viewer: which widget key events type text and which are shortcuts."""

from __future__ import annotations

from agent.control.viewer import typed_as_text


def test_key_events_that_type_text_and_those_that_are_shortcuts() -> None:
    assert typed_as_text("é", ()) == "é"
    assert typed_as_text("A", ("shift",)) == "A"
    assert typed_as_text("@", ("altgr",)) == "@"
    assert typed_as_text("@", ("ctrl", "alt")) == "@"  # AltGr as Windows browsers report it
    assert typed_as_text("s", ("ctrl",)) is None
    assert typed_as_text("t", ("ctrl", "alt")) is None
    assert typed_as_text(" ", ("ctrl",)) is None
    assert typed_as_text(None, ()) is None
