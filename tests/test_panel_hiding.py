"""The window's hiding pickers, without a display: what they offer and how hidden items read."""

from __future__ import annotations

from agent.panel.hiding_words import ENGLISH_HIDING, FRENCH_HIDING
from agent.panel.wording import ENGLISH, FRENCH


def test_window_choices_are_titled_unique_sorted_and_not_hidden_yet() -> None:
    from agent.panel.hiding import window_choices

    windows = [{"title": "zeta"}, {"title": "Bank statement"}, {"title": ""}, {"title": "Bank statement"},
               {"title": "Remote support"}, {"title": "already"}, {"title": "line\nbreak"}]
    choices = window_choices(windows, {"already"}, own_title="Remote support")
    assert [c.title for c in choices] == ["Bank statement", "line\nbreak", "zeta"]
    assert all(c.kind == "window" for c in choices)
    assert choices[1].label == "line break"  # a title cannot forge a second line in the list


def test_monitor_choices_count_from_zero_like_the_api() -> None:
    from agent.panel.hiding import monitor_choices

    monitors = [{"index": 0, "x": 0, "y": 0, "width": 1920, "height": 1080, "primary": True},
                {"index": 1, "x": 1920, "y": 0, "width": 2560, "height": 1440, "primary": False},
                {"index": "2"}]
    choices = monitor_choices(monitors, set(), ENGLISH_HIDING)
    assert [(c.monitor, c.label) for c in choices] == [(0, "Monitor 0 — 1920×1080, main monitor"),
                                                       (1, "Monitor 1 — 2560×1440")]
    assert [c.monitor for c in monitor_choices(monitors, {0}, ENGLISH_HIDING)] == [1]
    assert monitor_choices(monitors, set(), FRENCH_HIDING)[1].label == "Écran 1 — 2560×1440"


def test_hidden_items_read_in_plain_words() -> None:
    from agent.panel.hiding import item_label

    words = ENGLISH_HIDING
    assert item_label({"id": "h1", "kind": "window", "title": "Bank"}, words, {}) == "Window: Bank"
    assert item_label({"id": "h2", "kind": "monitor", "monitor": 1}, words, {1: "1920×1080"}) == \
        "Monitor 1 (1920×1080)"
    assert item_label({"id": "h2", "kind": "monitor", "monitor": 1}, words, {}) == "Monitor 1"
    assert item_label({"id": "h3", "kind": "rect", "x": 1, "y": 2, "w": 3, "h": 4}, words, {}) == \
        "Area at 1,2 (3×4)"


def test_each_language_has_its_hiding_words() -> None:
    assert ENGLISH.hiding is ENGLISH_HIDING and FRENCH.hiding is FRENCH_HIDING
    assert ENGLISH_HIDING.__dataclass_fields__.keys() == FRENCH_HIDING.__dataclass_fields__.keys()
    for name in ENGLISH_HIDING.__dataclass_fields__:
        english, french = getattr(ENGLISH_HIDING, name), getattr(FRENCH_HIDING, name)
        assert french and french != english, name
        # the same placeholders in both languages
        assert sorted(part.split("}")[0] for part in english.split("{")[1:]) == \
            sorted(part.split("}")[0] for part in french.split("{")[1:]), name
