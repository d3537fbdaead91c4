"""agent.control.priority: the customer's priority, on an injected clock."""

from __future__ import annotations

import threading

import pytest

from agent.control.priority import PriorityGate
from tests.fake_clock import FakeClock
from wire.errors import NotGranted

# -- the customer's priority --------------------------------------------------------------------


def test_priority_suspends_at_once_and_resumes_only_after_the_grace_period() -> None:
    clock = FakeClock()
    gate = PriorityGate(2.0, clock)
    assert not gate.suspended and gate.resume_in() is None and not gate.try_resume()
    assert gate.customer_input() is True  # a new suspension
    assert gate.suspended and gate.resume_in() == 2.0
    clock.advance(1.5)
    assert gate.customer_input() is False  # still the same suspension, now extended
    clock.advance(1.9)
    assert gate.resume_in() == pytest.approx(0.1) and not gate.try_resume()
    clock.advance(0.1)
    assert gate.resume_in() == 0.0
    assert gate.try_resume() is True and not gate.suspended
    assert gate.try_resume() is False
    assert gate.customer_input() is True and gate.periods == 2


def test_priority_wait_gives_up_at_the_deadline_while_the_customer_is_active() -> None:
    clock = FakeClock()
    waits: list[float] = []

    def fake_wait(cond: threading.Condition, seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds)
        gate.customer_input()  # the customer keeps going

    gate = PriorityGate(2.0, clock, wait=fake_wait)
    gate.customer_input()
    assert gate.wait_clear(clock() + 5.0, lambda: True) is False
    assert clock.now >= 1005.0 and all(0 < w <= 0.5 for w in waits)


def test_priority_wait_returns_once_resumed_and_ready() -> None:
    clock = FakeClock()

    def fake_wait(cond: threading.Condition, seconds: float) -> None:
        clock.advance(seconds)
        gate.try_resume()  # what the event loop does

    gate = PriorityGate(2.0, clock, wait=fake_wait)
    gate.customer_input()
    assert gate.wait_clear(clock() + 10.0, lambda: True) is True
    assert 1002.0 <= clock.now < 1003.0


def test_priority_wait_can_be_aborted_by_ready() -> None:
    gate = PriorityGate(2.0, FakeClock())

    def taken_back() -> bool:
        raise NotGranted("taken back")

    with pytest.raises(NotGranted):
        gate.wait_clear(2000.0, taken_back)
