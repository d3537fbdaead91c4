"""agent.control.ledger: telling the agent's own injected events from the customer's."""

from __future__ import annotations

from agent.control.ledger import (
    BUTTON_PRESS,
    BUTTON_RELEASE,
    KEY_PRESS,
    KEY_RELEASE,
    MOTION,
    DeviceEvent,
    InjectionLedger,
)
from tests.fake_clock import FakeClock

# -- the ledger ----------------------------------------------------------------------------------


def ev(kind: int, detail: int = 0, x: int = 0, y: int = 0) -> DeviceEvent:
    return DeviceEvent(kind, detail, x, y)


def test_ledger_recognises_its_own_events_and_reports_the_rest() -> None:
    ledger = InjectionLedger(FakeClock())
    ours = [ev(MOTION, 0, 10, 10), ev(BUTTON_PRESS, 1), ev(BUTTON_RELEASE, 1), ev(KEY_PRESS, 38), ev(KEY_RELEASE, 38)]
    for event in ours:
        ledger.expect(event)
    assert [ledger.observe(event) for event in ours] == [True] * 5
    assert ledger.observe(ev(MOTION, 0, 500, 400)) is False  # nothing expected: the customer's
    assert ledger.observe(ev(KEY_PRESS, 38)) is False
    assert (ledger.ours, ledger.customers, ledger.pending()) == (5, 2, 0)


def test_ledger_reports_customer_events_interleaved_with_ours_even_when_they_look_alike() -> None:
    ledger = InjectionLedger(FakeClock())
    ledger.expect(ev(MOTION, 0, 10, 10))
    ledger.expect(ev(MOTION, 0, 11, 10))
    # the customer's motion arrives between ours: the count gives it away
    results = [ledger.observe(e) for e in (ev(MOTION, 0, 10, 10), ev(MOTION, 0, 700, 500), ev(MOTION, 0, 11, 10))]
    assert results.count(False) == 1
    # a customer key press that matches nothing we sent
    ledger.expect(ev(KEY_PRESS, 38))
    assert ledger.observe(ev(KEY_PRESS, 40)) is False
    assert ledger.observe(ev(KEY_PRESS, 38)) is True


def test_ledger_motion_matches_whatever_position_the_server_clamped_it_to() -> None:
    ledger = InjectionLedger(FakeClock())
    ledger.expect(ev(MOTION, 0, 5000, 10))
    assert ledger.observe(ev(MOTION, 0, 1279, 10)) is True


def test_ledger_forgets_lost_events_so_they_cannot_hide_the_customer_for_long() -> None:
    clock = FakeClock()
    ledger = InjectionLedger(clock, expiry_s=2.0)
    ledger.expect(ev(MOTION))
    clock.advance(2.5)
    assert ledger.observe(ev(MOTION, 0, 3, 3)) is False
    assert ledger.lost == 1


def test_ledger_counts_auto_repeat_of_a_held_key_as_ours_until_released() -> None:
    ledger = InjectionLedger(FakeClock())
    ledger.expect(ev(KEY_PRESS, 50))
    assert ledger.observe(ev(KEY_PRESS, 50)) is True
    assert ledger.observe(ev(KEY_PRESS, 50)) is True  # the server's auto-repeat
    ledger.expect(ev(KEY_RELEASE, 50))
    assert ledger.observe(ev(KEY_RELEASE, 50)) is True
    assert ledger.observe(ev(KEY_PRESS, 50)) is False  # now it is the customer


def test_ledger_drops_expected_events_the_server_never_reported() -> None:
    ledger = InjectionLedger(FakeClock())
    ledger.expect(ev(BUTTON_RELEASE, 2))  # e.g. a release the server dropped
    ledger.expect(ev(MOTION, 0, 1, 1))
    assert ledger.observe(ev(MOTION, 0, 1, 1)) is True
    assert (ledger.lost, ledger.pending()) == (1, 0)
