"""agent.control.service driven with a fake backend (no X server): grant, priority, calls, viewer input.

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
from agent.control.keys import (
    KEYSYMS,
    Combo,
    Key,
)
from agent.control.ledger import (
    BUTTON_PRESS,
    KEY_PRESS,
    MOTION,
    DeviceEvent,
    InjectionLedger,
)
from agent.control.service import ControlService
from agent.dispatch import CallContext
from agent.policy import Permissions, Policy
from tests.fake_clock import FakeClock
from wire.errors import BadParams, CustomerPriority, NotGranted, Unavailable

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
