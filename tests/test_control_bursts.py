"""agent.control.bursts: live input journaled and told in bursts, on an injected clock."""

from __future__ import annotations

from agent.control.bursts import BurstRecorder
from tests.fake_clock import FakeClock

# -- bursts -------------------------------------------------------------------------------------------


def test_bursts_group_motion_and_clicks_within_the_window() -> None:
    clock = FakeClock()
    bursts = BurstRecorder(1.0, clock)
    for n in range(30):
        assert bursts.move("v1", 100 + n, 200) == []
        clock.advance(0.02)
    assert bursts.click("v1", 1, 1, 130, 200) == []
    clock.advance(0.5)
    [burst] = bursts.due()
    assert burst.words() == "The technician moved the pointer and clicked at (130, 200)"
    record = burst.record()
    assert record["moves"] == 30 and record["actions"] == [{"click": 1, "count": 1, "at": [130, 200]}]
    assert record["viewers"] == ["v1"] and record["category"] == "pointer"
    assert bursts.due() == [] and bursts.next_due() is None


def test_bursts_switching_from_pointer_to_keyboard_keeps_the_order() -> None:
    clock = FakeClock()
    bursts = BurstRecorder(1.0, clock)
    bursts.click(None, 3, 1, 10, 20)
    [pointer] = bursts.text(None, "héllo")
    assert pointer.words() == "The technician right-clicked at (10, 20)"
    bursts.text(None, " ж")
    bursts.key(None, "Ctrl+S")
    [keyboard] = bursts.flush()
    assert keyboard.words() == "The technician typed 7 characters and pressed Ctrl+S"
    assert keyboard.record()["text"] == "héllo ж"  # the journal keeps the text; the words do not


def test_bursts_a_new_window_starts_a_new_record() -> None:
    clock = FakeClock()
    bursts = BurstRecorder(1.0, clock)
    bursts.text(None, "abc")
    clock.advance(1.2)
    [first] = bursts.text(None, "d")
    assert first.words() == "The technician typed 3 characters"
    [second] = bursts.flush()
    assert second.words() == "The technician typed 1 character"


def test_bursts_press_move_release_is_a_drag_and_double_click_is_said() -> None:
    bursts = BurstRecorder(1.0, FakeClock())
    bursts.button(None, 1, True, 10, 10)
    bursts.move(None, 50, 50)
    bursts.button(None, 1, False, 90, 90)
    bursts.click(None, 1, 2, 5, 5)
    bursts.scroll(None, 5, 5, 0, 3)
    [burst] = bursts.flush()
    assert burst.words() == ("The technician moved the pointer, dragged from (10, 10) to (90, 90), "
                             "double-clicked at (5, 5) and scrolled at (5, 5)")


def test_bursts_held_back_input_is_journaled_but_not_told() -> None:
    bursts = BurstRecorder(1.0, FakeClock())
    bursts.dropped("v", "pointer")
    bursts.dropped("v", "pointer")
    [burst] = bursts.flush()
    assert burst.words() is None
    assert burst.record()["held_back"] == 2
    assert "held back" in burst.record()["words"]
