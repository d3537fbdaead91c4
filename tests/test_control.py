"""Control, the pure parts: key names, the accounting of injected events, the customer's
priority (injected clock), bursts, and the service driven with a fake backend (no X server).

The real thing, on Xvfb with a real program receiving the input, is ``tests/e2e/test_control_x11.py``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.control import actions as act
from agent.control.bursts import BurstRecorder
from agent.control.keys import (
    HOTKEYS,
    KEYSYMS,
    Combo,
    Key,
    KeyNameError,
    char_keysym,
    combo_label,
    keysym_char,
    parse_combo,
    refusal,
    resolve_dom_key,
)
from agent.control.ledger import (
    BUTTON_PRESS,
    BUTTON_RELEASE,
    KEY_PRESS,
    KEY_RELEASE,
    MOTION,
    DeviceEvent,
    InjectionLedger,
)
from agent.control.priority import PriorityGate
from agent.control.service import ControlService, _typed_as_text
from agent.dispatch import CallContext
from agent.policy import Permissions, Policy
from wire.errors import BadParams, CustomerPriority, NotGranted, Unavailable
from workbench.calls import CallResult
from workbench.control import ControlNamespace


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# -- keys -------------------------------------------------------------------------------------


def test_characters_map_to_latin1_or_unicode_keysyms() -> None:
    assert char_keysym("a") == ord("a") and char_keysym("A") == 0x41
    assert char_keysym("é") == 0xE9 and char_keysym("ç") == 0xE7 and char_keysym("ß") == 0xDF
    assert char_keysym("ж") == 0x01000436 and char_keysym("€") == 0x010020AC and char_keysym("😀") == 0x0101F600
    assert char_keysym("\n") == KEYSYMS["Return"] and char_keysym("\t") == KEYSYMS["Tab"]
    for char in "aé ж€":
        assert keysym_char(char_keysym(char)) == char
    with pytest.raises(KeyNameError):
        char_keysym("\x07")
    with pytest.raises(KeyNameError):
        char_keysym("ab")


@pytest.mark.parametrize(("combo", "modifiers", "keysym", "label"), [
    ("ctrl+s", ("ctrl",), ord("s"), "Ctrl+S"),
    ("Ctrl+S", ("ctrl",), ord("s"), "Ctrl+S"),
    ("ctrl+shift+s", ("ctrl", "shift"), ord("s"), "Ctrl+Shift+S"),
    ("ctrl+alt+t", ("ctrl", "alt"), ord("t"), "Ctrl+Alt+T"),
    ("alt+ctrl+T", ("ctrl", "alt"), ord("t"), "Ctrl+Alt+T"),
    ("shift+F5", ("shift",), KEYSYMS["F5"], "Shift+F5"),
    ("F5", (), KEYSYMS["F5"], "F5"),
    ("Enter", (), KEYSYMS["Return"], "Enter"),
    ("ArrowLeft", (), KEYSYMS["Left"], "Left arrow"),
    ("pgdn", (), KEYSYMS["Next"], "Page Down"),
    ("ctrl++", ("ctrl",), ord("+"), "Ctrl++"),
    ("cmd+space", ("meta",), KEYSYMS["space"], "Super+Space"),
    ("é", (), 0xE9, "É"),
    ("Return", (), KEYSYMS["Return"], "Enter"),
    ("ctrl", (), KEYSYMS["Control_L"], "Ctrl"),
    ("XF86AudioMute", (), KEYSYMS["XF86AudioMute"], "AudioMute"),
])
def test_parse_combo(combo: str, modifiers: tuple[str, ...], keysym: int, label: str) -> None:
    parsed = parse_combo(combo)
    assert parsed.modifiers == modifiers and parsed.key.keysym == keysym
    assert parsed.label == label


@pytest.mark.parametrize("combo", ["", "ctrl+", "ctrl++s", "hyperdrive+x", "ctrl+nosuchkey", "+s"])
def test_parse_combo_refuses_nonsense(combo: str) -> None:
    with pytest.raises(KeyNameError):
        parse_combo(combo)


@pytest.mark.parametrize(("key", "code", "keysym", "char", "modifier"), [
    ("Enter", "Enter", KEYSYMS["Return"], None, None),
    ("ArrowLeft", "ArrowLeft", KEYSYMS["Left"], None, None),
    ("F5", "F5", KEYSYMS["F5"], None, None),
    ("Control", "ControlLeft", KEYSYMS["Control_L"], None, "ctrl"),
    ("Control", "ControlRight", KEYSYMS["Control_R"], None, "ctrl"),
    ("Shift", "ShiftRight", KEYSYMS["Shift_R"], None, "shift"),
    ("AltGraph", "AltRight", KEYSYMS["ISO_Level3_Shift"], None, "altgr"),
    ("Meta", "MetaLeft", KEYSYMS["Super_L"], None, "meta"),
    ("é", "Digit2", 0xE9, "é", None),
    ("ж", "Semicolon", 0x01000436, "ж", None),
    (" ", "Space", 0x20, " ", None),
    ("Dead", "KeyE", ord("e"), "e", None),  # a dead key names nothing: the physical key does
    ("Unidentified", "Numpad4", KEYSYMS["KP_4"], None, None),
])
def test_resolve_dom_key(key: str, code: str, keysym: int, char: str | None, modifier: str | None) -> None:
    assert resolve_dom_key(key, code) == Key(keysym, char, modifier)


def test_resolve_dom_key_without_anything_usable_raises() -> None:
    with pytest.raises(KeyNameError):
        resolve_dom_key("Dead", "")
    with pytest.raises(KeyNameError):
        resolve_dom_key(None, None)


def test_refused_combinations() -> None:
    assert refusal(("ctrl", "alt", "shift"), KEYSYMS["space"]) is not None  # the customer's hotkey
    assert refusal((), KEYSYMS["Pause"]) is not None  # the other hotkey
    assert refusal(("ctrl", "alt"), KEYSYMS["BackSpace"]) is not None  # kills the X server
    assert refusal(("ctrl", "alt"), KEYSYMS["F2"]) is not None  # virtual terminal switch
    assert refusal((), KEYSYMS["XF86Switch_VT_3"]) is not None
    assert refusal((), KEYSYMS["Terminate_Server"]) is not None
    assert refusal(("ctrl", "alt"), KEYSYMS["Delete"]) is None  # ordinary keys on X11
    assert refusal(("ctrl", "shift"), KEYSYMS["space"]) is None
    assert refusal(("alt",), KEYSYMS["F4"]) is None
    assert [h.label for h in HOTKEYS] == ["Ctrl+Alt+Shift+Space", "Pause"]
    assert combo_label(("shift", "ctrl"), ord("s")) == "Ctrl+Shift+S"


def test_key_events_that_type_text_and_those_that_are_shortcuts() -> None:
    assert _typed_as_text("é", ()) == "é"
    assert _typed_as_text("A", ("shift",)) == "A"
    assert _typed_as_text("@", ("altgr",)) == "@"
    assert _typed_as_text("@", ("ctrl", "alt")) == "@"  # AltGr as Windows browsers report it
    assert _typed_as_text("s", ("ctrl",)) is None
    assert _typed_as_text("t", ("ctrl", "alt")) is None
    assert _typed_as_text(" ", ("ctrl",)) is None
    assert _typed_as_text(None, ()) is None


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


# -- the service, with a fake backend ---------------------------------------------------------------


class FakeBackend:
    """Records the actions it performs; asks may_inject before each step, as the X11 one does."""

    def __init__(self) -> None:
        self.performed: list[tuple[act.Action, int, int]] = []
        self.typed = ""
        self.releases = 0
        self.closed = False
        self.thread: str | None = None

    def perform(self, action: act.Action, start: int, may_inject: Callable[[], bool]) -> int:
        self.thread = threading.current_thread().name
        done = start
        while done < act.steps(action):
            if not may_inject():
                break
            if isinstance(action, act.TypeText):
                self.typed += action.text[done]
            done += 1
        self.performed.append((action, start, done))
        return done

    def held(self) -> bool:
        return False

    def release_all(self) -> None:
        self.releases += 1

    def maintain(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class FakeWatch:
    def __init__(self, on_ready: Callable[[bool], None]) -> None:
        self.on_ready = on_ready
        self.watching: list[bool] = []
        self.closed = False

    def start(self) -> None:
        pass

    def set_watching(self, on: bool) -> None:
        self.watching.append(on)
        self.on_ready(on)  # the record starts (or stops) at once

    def close(self) -> None:
        self.closed = True


class Rig:
    """A ControlService on a fake backend, on an event loop in a thread of its own."""

    def __init__(self, policy: Policy | None = None, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.sent: list[dict[str, Any]] = []
        self.journal: list[dict[str, Any]] = []
        self.told: list[str] = []
        self.backend = FakeBackend()
        self.watch: FakeWatch | None = None
        self.hotkey: Callable[[str], None] | None = None
        self.on_event: Callable[[DeviceEvent], None] | None = None
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="rig-loop", daemon=True)
        self.thread.start()
        self.service = ControlService(policy or Policy(), self.send, self.told.append, self.append, None,
                                      grace_s=2.0, backend_factory=self.factory, clock=self.clock)
        self.run(self.service.start())

    def factory(self, display: str | None, ledger: InjectionLedger, on_event: Callable[[DeviceEvent], None],
                on_ready: Callable[[bool], None], on_hotkey: Callable[[str], None]) -> tuple[FakeBackend, FakeWatch]:
        self.watch = FakeWatch(on_ready)
        self.hotkey, self.on_event = on_hotkey, on_event
        return self.backend, self.watch

    async def send(self, name: str, body: dict[str, Any], data: bytes | None) -> None:
        assert name == "screen.control" and data is None
        self.sent.append(body)

    def append(self, kind: str, **fields: Any) -> dict[str, Any]:
        record = {"kind": kind, **fields}
        self.journal.append(record)
        return record

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def event(self, name: str, body: dict[str, Any]) -> None:
        self.run(self.service.on_event(name, body))

    def settle(self) -> None:
        """Let the injection thread and the loop finish what they were given."""
        worker = self.service._worker
        assert worker is not None
        worker.submit(lambda: None).result(10)
        self.run(asyncio.sleep(0))

    def call(self, method: str, **params: Any) -> Any:
        handler = next(m.handler for m in self.service.METHODS if m.name == method)
        return handler(CallContext(method, params, None, self.service.policy, Path(".")))

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.run(self.service.stop())
        self.run(self.loop.shutdown_default_executor())  # the loop's own threads, not the service's
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def rig() -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def make(**options: Any) -> Rig:
        made.append(Rig(**options))
        return made[-1]

    yield make
    for r in made:
        r.close()


def test_calls_and_viewer_input_without_the_grant_inject_nothing(rig: Callable[..., Rig]) -> None:
    r = rig()
    with pytest.raises(NotGranted):
        r.call("control.click", x=10, y=10, timeout=0)
    r.event("control.pointer", {"action": "click", "x": 1, "y": 1, "viewer_id": "v"})
    r.settle()
    assert r.backend.performed == [] and r.journal == [] and r.watch is not None and r.watch.watching == []


def test_grant_is_journaled_told_and_sent_then_input_is_injected_and_journaled_in_bursts(
        rig: Callable[..., Rig]) -> None:
    r = rig()
    r.service.grant("customer (window)")
    assert r.service.policy.permissions.control is True
    assert r.journal == [{"kind": "policy", "change": "grant_control", "by": "customer (window)"}]
    assert "take back control" in r.told[0] and "Pause" in r.told[0]
    r.event("control.pointer", {"action": "move", "x": 5, "y": 6, "viewer_id": "v"})
    r.event("control.pointer", {"action": "click", "x": 7, "y": 8, "button": 1, "viewer_id": "v"})
    r.event("control.text", {"text": "héllo ж", "viewer_id": "v"})
    r.event("control.key", {"action": "press", "key": "s", "code": "KeyS", "modifiers": ["ctrl"], "viewer_id": "v"})
    r.event("control.key", {"action": "press", "key": "Enter", "code": "Enter", "modifiers": [], "viewer_id": "v"})
    r.settle()
    assert [a for a, _, _ in r.backend.performed] == [
        act.Move(5, 6), act.Click(7, 8, 1, 1), act.TypeText("héllo ж"),
        act.PressCombo(Combo(("ctrl",), Key(ord("s"), "s"))), act.PressCombo(Combo((), Key(KEYSYMS["Return"])))]
    assert r.backend.thread == "control-inject"
    assert r.sent[-1] == {"granted": True, "customer_active": False, "resume_in": None, "grace_s": 2.0}
    r.service.revoke("customer (window)")  # flushes the open burst first
    control = [rec for rec in r.journal if rec["kind"] == "control"]
    assert [rec["words"] for rec in control] == [
        "The technician moved the pointer and clicked at (7, 8)",
        "The technician typed 7 characters and pressed Ctrl+S and Enter"]
    assert control[1]["text"] == "héllo ж"
    assert r.journal[-1] == {"kind": "policy", "change": "revoke_control", "by": "customer (window)"}
    assert r.told[-1] == "You took back control of your mouse and keyboard."
    assert not any("héllo" in line for line in r.told)  # the window shows the count, not the text


def test_customer_input_suspends_drops_viewer_input_and_makes_calls_wait(rig: Callable[..., Rig]) -> None:
    r = rig()
    r.service.grant("test")
    assert r.on_event is not None
    r.on_event(DeviceEvent(MOTION, 0, 300, 300))  # nothing expected: the customer's
    r.settle()
    assert r.backend.releases == 1  # whatever the technician held is let go at once
    assert r.sent[-1] == {"granted": True, "customer_active": True, "resume_in": 2.0, "grace_s": 2.0}
    r.event("control.pointer", {"action": "click", "x": 1, "y": 1, "viewer_id": "v"})
    r.settle()
    assert r.backend.performed == []  # dropped, not queued
    with pytest.raises(CustomerPriority) as raised:
        r.call("control.type", text="abc", timeout=0)
    assert raised.value.code == "customer_priority"
    assert r.backend.performed == []
    r.clock.advance(2.0)  # the customer has been idle for the grace period
    deadline = threading.Event()
    for _ in range(200):  # the loop resumes within one short nap; bounded
        if r.sent[-1]["customer_active"] is False:
            break
        deadline.wait(0.02)
    assert r.sent[-1] == {"granted": True, "customer_active": False, "resume_in": None, "grace_s": 2.0}
    assert r.call("control.type", text="abc", timeout=0) == {"typed": 3}
    assert r.backend.typed == "abc"


def test_typing_pauses_for_the_customer_and_goes_on_after(rig: Callable[..., Rig]) -> None:
    r = rig()
    r.service.grant("test")
    calls = {"n": 0}
    real = r.backend.perform

    def interrupted(action: act.Action, start: int, may_inject: Callable[[], bool]) -> int:
        calls["n"] += 1
        if calls["n"] == 1:  # the customer moves after two characters
            done = real(action, start, lambda: r.backend.typed.__len__() < 2)
            assert r.on_event is not None
            r.on_event(DeviceEvent(KEY_PRESS, 40))
            r.clock.advance(2.0)
            return done
        return real(action, start, may_inject)

    r.backend.perform = interrupted  # type: ignore[method-assign]
    assert r.call("control.type", text="hello", timeout=5) == {"typed": 5}
    assert r.backend.typed == "hello"
    assert [(start, done) for _, start, done in r.backend.performed] == [(0, 2), (2, 5)]


def test_the_hotkey_takes_control_back(rig: Callable[..., Rig]) -> None:
    r = rig(policy=Policy(permissions=Permissions(control=True)))  # --allow-control
    assert r.watch is not None and r.watch.watching == [True]  # watched from the start
    assert r.hotkey is not None
    r.hotkey("Pause")
    assert r.service.policy.permissions.control is False and r.watch.watching == [True, False]
    assert r.journal == [{"kind": "policy", "change": "revoke_control", "by": "customer (hotkey Pause)"}]
    r.settle()
    assert r.backend.releases == 1 and r.sent[-1]["granted"] is False
    with pytest.raises(NotGranted):
        r.call("control.key", combo="ctrl+s", timeout=0)
    r.hotkey("Pause")  # pressed again: nothing to take back
    assert len(r.journal) == 1


def test_a_call_waiting_for_the_customer_fails_when_control_is_taken_back(rig: Callable[..., Rig]) -> None:
    r = rig()
    r.service.grant("test")
    assert r.on_event is not None
    r.on_event(DeviceEvent(BUTTON_PRESS, 1, 5, 5))
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            r.call("control.click", x=1, y=1, timeout=60)
        except BaseException as err:
            outcome.append(err)

    waiter = threading.Thread(target=call)
    waiter.start()
    r.service.revoke("test")
    waiter.join(10)
    assert not waiter.is_alive() and isinstance(outcome[0], NotGranted)


@pytest.mark.parametrize(("method", "params"), [
    ("control.key", {"combo": "ctrl+alt+shift+space"}),
    ("control.key", {"combo": "Pause"}),
    ("control.key", {"combo": "ctrl+alt+BackSpace"}),
    ("control.key", {"combo": "ctrl+alt+F1"}),
    ("control.key", {"combo": "ctrl+nosuchkey"}),
    ("control.type", {"text": "bell\x07"}),
    ("control.type", {"text": 42}),
    ("control.click", {"x": 1, "y": 1, "button": 4}),
    ("control.click", {"x": "1", "y": 1}),
    ("control.click", {"x": 1, "y": 1, "timeout": -1}),
    ("control.scroll", {"x": 1, "y": 1}),
    ("control.drag", {"from": [1, 2], "to": [3]}),
])
def test_bad_parameters_and_refused_keys_inject_nothing(rig: Callable[..., Rig], method: str,
                                                        params: dict[str, Any]) -> None:
    r = rig(policy=Policy(permissions=Permissions(control=True)))
    with pytest.raises(BadParams):
        r.call(method, **params)
    r.settle()
    assert r.backend.performed == []


def test_refused_keys_from_the_widget_are_dropped(rig: Callable[..., Rig]) -> None:
    r = rig(policy=Policy(permissions=Permissions(control=True)))
    for body in ({"action": "press", "key": " ", "code": "Space", "modifiers": ["ctrl", "alt", "shift"]},
                 {"action": "down", "key": "Pause", "code": "Pause", "modifiers": []},
                 {"action": "press", "key": "F3", "code": "F3", "modifiers": ["ctrl", "alt"]},
                 {"action": "sideways", "key": "a"}, {"action": "wheel", "x": 1, "y": 1, "dy": 0}):
        r.event("control.key" if "key" in body else "control.pointer", body)
    r.settle()
    assert r.backend.performed == []


def test_widget_key_events_become_text_holds_or_combos(rig: Callable[..., Rig]) -> None:
    r = rig(policy=Policy(permissions=Permissions(control=True)))
    r.event("control.key", {"action": "down", "key": "Control", "code": "ControlLeft", "modifiers": ["ctrl"]})
    r.event("control.key", {"action": "down", "key": "c", "code": "KeyC", "modifiers": ["ctrl"]})
    r.event("control.key", {"action": "up", "key": "c", "code": "KeyC", "modifiers": ["ctrl"]})
    r.event("control.key", {"action": "up", "key": "Control", "code": "ControlLeft", "modifiers": []})
    r.event("control.key", {"action": "down", "key": "é", "code": "Digit2", "modifiers": []})
    r.event("control.key", {"action": "up", "key": "é", "code": "Digit2", "modifiers": []})
    r.event("control.pointer", {"action": "wheel", "x": 3, "y": 4, "dx": 0, "dy": -120})
    r.settle()
    control_l, c = Key(KEYSYMS["Control_L"], None, "ctrl"), Key(ord("c"), "c")
    e_acute = Key(0xE9, "é")
    assert [a for a, _, _ in r.backend.performed] == [
        act.KeyDown(control_l), act.KeyDown(c, ("ctrl",)), act.KeyUp(c), act.KeyUp(control_l),
        act.TypeText("é"), act.KeyUp(e_acute), act.Scroll(3, 4, 0, -10)]


def test_viewers_leaving_releases_what_is_held(rig: Callable[..., Rig]) -> None:
    r = rig(policy=Policy(permissions=Permissions(control=True)))
    r.event("relay.viewers", {"count": 1, "viewers": ["v"]})
    r.event("relay.viewers", {"count": 0, "viewers": []})
    r.settle()
    assert r.backend.releases == 1
    assert r.sent[-1] == {"granted": True, "customer_active": False, "resume_in": None, "grace_s": 2.0}


def test_stop_closes_the_backend_and_leaves_no_thread(rig: Callable[..., Rig]) -> None:
    before = {t.name for t in threading.enumerate()}
    r = rig(policy=Policy(permissions=Permissions(control=True)))
    assert "control-inject" in {t.name for t in threading.enumerate()}
    r.close()
    assert r.backend.closed and r.watch is not None and r.watch.closed
    assert {t.name for t in threading.enumerate()} <= before
    r.service.grant("late")  # after stop: nothing happens
    assert r.journal == []


def test_without_a_backend_calls_say_unavailable(rig: Callable[..., Rig]) -> None:
    def no_x(*args: Any) -> Any:
        raise OSError("no X display")

    r = rig()
    r.run(r.service.stop())
    service = ControlService(Policy(permissions=Permissions(control=True)), r.send, r.told.append, r.append, None,
                             backend_factory=no_x)
    r.run(service.start())
    assert service.unavailable == "no X display"
    with pytest.raises(Unavailable):
        service.METHODS[0].handler(CallContext("control.click", {"x": 1, "y": 1}, None, service.policy, Path(".")))
    r.run(service.stop())


def test_methods_describe_themselves_for_the_customer(rig: Callable[..., Rig]) -> None:
    r = rig()
    words = {m.name: m.describe for m in r.service.METHODS}
    assert words["control.click"]({"x": 4, "y": 5}) == "The technician clicked at (4, 5)"
    assert words["control.click"]({"x": 4, "y": 5, "button": 3, "double": True}) == \
        "The technician right-double-clicked at (4, 5)"
    assert words["control.type"]({"text": "secret"}) == "The technician typed 6 characters"
    assert words["control.key"]({"combo": "ctrl+alt+t"}) == "The technician pressed Ctrl+Alt+T"
    assert words["control.drag"]({"from": [1, 2], "to": [3, 4]}) == "The technician dragged from (1, 2) to (3, 4)"
    assert {m.permission for m in r.service.METHODS} == {"control"}


# -- the notebook side ----------------------------------------------------------------------------------


class FakeCaller:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], float | None]] = []

    def call(self, method: str, params: dict[str, Any] | None = None, data: bytes | None = None,
             *, timeout: float | None = None) -> CallResult:
        self.calls.append((method, dict(params or {}), timeout))
        return CallResult({"ok": True})


def test_control_namespace_sends_plain_calls_with_the_wait_and_a_longer_round_trip() -> None:
    caller = FakeCaller()
    s = ControlNamespace(caller)  # type: ignore[arg-type]
    s.click(10, 20)
    s.click(10, 20, button=3, double=True, timeout=2)
    s.move(1, 2)
    s.drag((1, 2), (3, 4))
    s.scroll(5, 6, dy=-3)
    s.type("héllo")
    s.key("ctrl+s")
    assert caller.calls == [
        ("control.click", {"x": 10, "y": 20, "button": 1, "double": False, "timeout": 10.0}, 30.0),
        ("control.click", {"x": 10, "y": 20, "button": 3, "double": True, "timeout": 2}, 22),
        ("control.move", {"x": 1, "y": 2, "timeout": 10.0}, 30.0),
        ("control.drag", {"from": [1, 2], "to": [3, 4], "button": 1, "timeout": 10.0}, 30.0),
        ("control.scroll", {"x": 5, "y": 6, "dx": 0, "dy": -3, "timeout": 10.0}, 30.0),
        ("control.type", {"text": "héllo", "timeout": 10.0}, 30.0),
        ("control.key", {"combo": "ctrl+s", "timeout": 10.0}, 30.0),
    ]
