"""Control on a real X server: the ControlService injects into a real program on Xvfb, and a
separate process (xdotool, as the customer would) uses the same mouse and keyboard.

The program (``control_target.py``) prints every key, button and motion it receives.  The
service is driven as the agent drives it (its own event loop thread; notebook calls through
the real dispatcher, so errors arrive as wire codes).  Waits are bounded polls on what the
program printed or what the service sent; nothing relies on a fixed sleep, and nothing
asserts a duration.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.control import ControlService
from agent.dispatch import Dispatcher, MethodTable
from agent.journal import Journal
from agent.policy import Permissions, Policy
from tests import requires
from wire import protocol
from workbench.lab import Proc, Xvfb

pytestmark = pytest.mark.e2e

TARGET = Path(__file__).with_name("control_target.py")
ACCENTS = "héllo ç ß ж"


def need_tools() -> None:
    requires.tool("Xvfb", "xvfb")
    requires.tool("xdotool", "xdotool")


def poll(condition: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    """Wait (bounded) until *condition()* is truthy; return it."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Target:
    """The test program on the X screen, and what it received."""

    def __init__(self, xvfb: Xvfb) -> None:
        self.proc = Proc([sys.executable, str(TARGET), "800", "600"], env=xvfb.env(LANG="C.UTF-8"), name="target")
        self.proc.wait_for('"t": "ready"')

    def mark(self) -> int:
        return len(self.proc.lines)

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.proc.lines[since:] if line.startswith("{")]

    def typed(self, since: int = 0) -> str:
        return "".join(e["char"] for e in self.events(since) if e["t"] == "key" and e["char"].isprintable())

    def keysyms(self, since: int = 0) -> list[str]:
        return [e["keysym"] for e in self.events(since) if e["t"] == "key"]

    def stop(self) -> None:
        self.proc.stop()


class Screen:
    def __init__(self) -> None:
        self.xvfb = Xvfb(1024, 768)
        self.display = self.xvfb.display
        try:
            self.target = Target(self.xvfb)
        except BaseException:
            self.xvfb.stop()
            raise

    def customer(self, *args: str) -> None:
        """The customer, as a separate process using the same mouse and keyboard."""
        subprocess.run(["xdotool", *args], env=self.xvfb.env(), check=True, timeout=20,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        self.target.stop()
        self.xvfb.stop()


@pytest.fixture(scope="module")
def screen() -> Iterator[Screen]:
    need_tools()
    made = Screen()
    try:
        yield made
    finally:
        made.stop()


class Agent:
    """A ControlService with a real dispatcher and journal, on an event loop thread, as the agent runs it."""

    def __init__(self, display: str, data: Path, *, grace_s: float = 1.0, allow: bool = False) -> None:
        data.mkdir(parents=True, exist_ok=True)
        self.policy = Policy(permissions=Permissions(control=allow))
        self.journal = Journal(data / f"journal-{uuid.uuid4().hex[:6]}.jsonl")
        self.sent: list[dict[str, Any]] = []
        self.told: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="agent-loop", daemon=True)
        self.thread.start()
        self.service = ControlService(self.policy, self._send, self.told.append, self.journal.append, display,
                                      grace_s=grace_s)
        self.dispatcher = Dispatcher(MethodTable(self.service.METHODS), self.journal, self.policy, data,
                                     self.told.append)
        self.run(self.service.start())
        assert self.service.unavailable is None, self.service.unavailable

    async def _send(self, name: str, body: dict[str, Any], data: bytes | None) -> None:
        assert name == "screen.control"
        self.sent.append(body)

    def run(self, coro: Any, timeout: float = 60.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def event(self, name: str, **body: Any) -> None:
        self.run(self.service.on_event(name, {**body, "viewer_id": "tech"}))

    def call(self, method: str, **params: Any) -> protocol.Message:
        reply: protocol.Message = self.run(self.dispatcher.handle(protocol.request(uuid.uuid4().hex, method, params)))
        return reply

    def grant(self) -> None:
        self.service.grant("customer (test)")
        poll(lambda: self.service.watching, "the agent to watch the customer's input")

    def records(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.journal.records if r["kind"] == kind]

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.run(self.service.stop())
        self.dispatcher.close()
        self.run(self.loop.shutdown_default_executor())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
        self.journal.close()


@pytest.fixture
def agent(screen: Screen, tmp_path: Path) -> Iterator[Callable[..., Agent]]:
    made: list[Agent] = []

    def make(**options: Any) -> Agent:
        made.append(Agent(screen.display, tmp_path / "agent", **options))
        return made[-1]

    yield make
    for a in made:
        a.close()


# -- what the technician sends reaches the program, exactly -------------------------------------------


def test_clicks_keys_and_text_with_accents_reach_the_program(screen: Screen, agent: Callable[..., Agent]) -> None:
    a = agent()
    a.grant()
    mark = screen.target.mark()
    a.event("control.pointer", action="click", x=200, y=150, button=1)
    a.event("control.pointer", action="double", x=220, y=160, button=1)
    a.event("control.pointer", action="click", x=240, y=170, button=3)
    a.event("control.pointer", action="wheel", x=250, y=180, dx=0, dy=2)
    a.event("control.text", text=ACCENTS)
    a.event("control.key", action="press", key="Enter", code="Enter", modifiers=[])
    poll(lambda: "Return" in screen.target.keysyms(mark), "the Enter key")
    events = screen.target.events(mark)
    presses = [(e["t"], e["b"], e["x"], e["y"]) for e in events if e["t"] in ("down", "double")]
    assert presses == [("down", 1, 200, 150), ("down", 1, 220, 160), ("double", 1, 220, 160),  # Tk reports the
                       ("down", 3, 240, 170), ("down", 5, 250, 180), ("down", 5, 250, 180)]  # 2nd press as double
    assert screen.target.typed(mark) == ACCENTS

    mark = screen.target.mark()
    assert a.call("control.type", text="Zürich €\t").type == "response"
    assert a.call("control.key", combo="ctrl+s")["result"] == {"pressed": "Ctrl+S"}
    assert a.call("control.key", combo="shift+F5").type == "response"
    assert a.call("control.drag", **{"from": [300, 300], "to": [400, 350]}).type == "response"
    poll(lambda: any(e["t"] == "up" and e["x"] == 400 for e in screen.target.events(mark)), "the end of the drag")
    assert screen.target.typed(mark) == "Zürich €"
    keysyms = screen.target.keysyms(mark)
    assert "Tab" in keysyms
    assert keysyms[keysyms.index("Control_L") + 1] == "s"
    assert keysyms[keysyms.index("Shift_L", keysyms.index("s")) + 1] == "F5"
    downs = [(e["b"], e["x"], e["y"]) for e in screen.target.events(mark) if e["t"] in ("down", "up")]
    assert downs == [(1, 300, 300), (1, 400, 350)]

    a.service.revoke("customer (test)")  # writes the open burst
    words = [r["words"] for r in a.records("control")]
    assert "The technician clicked at (200, 150), double-clicked at (220, 160), right-clicked at (240, 170) " \
           "and scrolled at (250, 180)" in words
    assert "The technician typed 11 characters and pressed Enter" in words
    assert any(r.get("text") == ACCENTS for r in a.records("control"))  # the journal has the text…
    assert not any(ACCENTS in line for line in a.told)  # …the customer's window only the count
    assert "The technician typed 9 characters" in a.told


# -- C1: the customer's input wins --------------------------------------------------------------------------


def test_customer_pointer_motion_suspends_the_technician_until_idle(screen: Screen,
                                                                     agent: Callable[..., Agent]) -> None:
    a = agent(grace_s=1.0)
    a.grant()
    mark = screen.target.mark()
    accepted: dict[int, bool] = {}
    customer_x = 700

    def technician_counters() -> list[int | str]:
        seen: list[int | str] = []
        for e in screen.target.events(mark):
            if e["t"] == "motion":
                seen.append("customer" if e["x"] == customer_x else (e["x"] - 100) + (e["y"] - 100) * 500)
        return seen

    async def scenario() -> tuple[int, int]:
        n = 0

        async def step() -> None:
            nonlocal n
            assert n < 3000, "the scenario did not converge"
            accepted[n] = a.service.injecting
            await a.service.on_event("control.pointer", {"action": "move", "x": 100 + n % 500, "y": 100 + n // 500,
                                                         "viewer_id": "tech"})
            n += 1
            await asyncio.sleep(0.01)

        while len(technician_counters()) < 10:
            await step()
        customer = await asyncio.create_subprocess_exec("xdotool", "mousemove", str(customer_x), "550",
                                                        env=screen.xvfb.env())
        await customer.wait()
        while not any(body["customer_active"] for body in a.sent):
            await step()
        suspended = n
        while a.sent[-1]["customer_active"]:
            await step()
        resumed = n
        while not any(isinstance(c, int) and c >= resumed for c in technician_counters()):
            await step()
        return suspended, resumed

    suspended, resumed = a.run(scenario())
    seen = technician_counters()
    assert "customer" in seen
    arrived = {c for c in seen if isinstance(c, int)}
    held_back = sorted(k for k, ok in accepted.items() if not ok)
    assert held_back, "some technician input was sent while the customer had priority"
    first, last = held_back[0], held_back[-1]
    assert held_back == list(range(first, last + 1)) and first <= suspended and last < resumed  # one stretch
    assert not arrived & set(held_back)  # none of it reached the program: dropped, not queued
    assert arrived <= {k for k, ok in accepted.items() if ok}
    after_customer = [c for c in seen[seen.index("customer") + 1:] if isinstance(c, int)]
    in_flight = [c for c in after_customer if c < first]  # sent before the agent saw the customer
    after_resume = [c for c in after_customer if c > last]
    assert after_customer == in_flight + after_resume and after_resume
    flags = [body["customer_active"] for body in a.sent]
    assert flags[-2:] == [True, False] and 0 <= a.sent[flags.index(True)]["resume_in"] <= 1.0  # within grace_s
    assert a.service.ledger.customers >= 1
    a.service.revoke("customer (test)")  # writes the burst still open
    held = [r for r in a.records("control") if r.get("held_back")]
    assert held and sum(r["held_back"] for r in held) >= len(held_back)
    assert not any("customer" in line.lower() for line in a.told)  # nothing noisy in the customer's window


def test_customer_typing_suspends_the_technicians_typing(screen: Screen, agent: Callable[..., Agent]) -> None:
    a = agent(grace_s=1.0)
    a.grant()
    mark = screen.target.mark()
    accepted: dict[int, bool] = {}

    def tokens() -> list[int]:
        text = screen.target.typed(mark).replace("z", "")
        return [int(t) for t in text.split(".")[:-1] if t.isdigit()]

    async def scenario() -> None:
        n = 0

        async def step() -> None:
            nonlocal n
            assert n < 3000, "the scenario did not converge"
            accepted[n] = a.service.injecting
            await a.service.on_event("control.text", {"text": f"{n}.", "viewer_id": "tech"})
            n += 1
            await asyncio.sleep(0.01)

        while len(tokens()) < 5:
            await step()
        customer = await asyncio.create_subprocess_exec("xdotool", "key", "z", env=screen.xvfb.env())
        await customer.wait()
        while not any(body["customer_active"] for body in a.sent):
            await step()
        while a.sent[-1]["customer_active"]:
            await step()
        resumed = n
        while not any(t >= resumed for t in tokens()):
            await step()

    a.run(scenario())
    assert "z" in screen.target.typed(mark)  # the customer's key reached the program
    arrived = set(tokens())
    dropped = {k for k, ok in accepted.items() if not ok}
    assert dropped and not arrived & dropped
    assert arrived <= {k for k, ok in accepted.items() if ok}


def test_a_call_while_the_customer_has_priority_fails_after_its_timeout(screen: Screen,
                                                                         agent: Callable[..., Agent]) -> None:
    a = agent(grace_s=60.0)  # the customer stays "active" for the whole test
    a.grant()
    mark = screen.target.mark()
    screen.customer("mousemove", "650", "450")
    poll(lambda: a.service.gate.suspended, "the customer's priority")
    reply = a.call("control.click", x=100, y=100, timeout=0.3)
    assert reply.type == "error" and reply["code"] == "customer_priority"
    reply = a.call("control.type", text="never", timeout=0)
    assert reply["code"] == "customer_priority"
    assert [r["code"] for r in a.records("outcome")] == ["customer_priority", "customer_priority"]
    a.service.revoke("customer (test)")  # the customer may still take back control meanwhile
    assert a.call("control.click", x=100, y=100, timeout=0)["code"] == "not_granted"
    assert not [e for e in screen.target.events(mark) if e["t"] in ("down", "key")]


def test_the_technicians_own_held_key_repeating_is_not_the_customer(screen: Screen,
                                                                      agent: Callable[..., Agent]) -> None:
    a = agent(grace_s=1.0)
    a.grant()
    mark = screen.target.mark()
    a.event("control.key", action="down", key="ArrowRight", code="ArrowRight", modifiers=[])
    poll(lambda: screen.target.keysyms(mark).count("Right") >= 3, "the server's auto-repeat")
    a.event("control.key", action="up", key="ArrowRight", code="ArrowRight", modifiers=[])
    poll(lambda: screen.target.events(mark)[-1] == {"t": "keyup", "keysym": "Right", "ks": 0xFF53}, "the release")
    assert not any(body["customer_active"] for body in a.sent)
    assert a.service.ledger.customers == 0


# -- taking back ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("hotkey", ["ctrl+alt+shift+space", "Pause"])
def test_the_hotkey_takes_back_control_even_while_the_technician_moves(screen: Screen, agent: Callable[..., Agent],
                                                                       hotkey: str) -> None:
    a = agent(grace_s=1.0)
    a.grant()
    mark = screen.target.mark()
    done = threading.Event()

    async def technician() -> None:
        n = 0
        while not done.is_set() and n < 2000:
            await a.service.on_event("control.pointer", {"action": "move", "x": 100 + n % 400, "y": 300,
                                                         "viewer_id": "tech"})
            n += 1
            await asyncio.sleep(0.01)

    moving = asyncio.run_coroutine_threadsafe(technician(), a.loop)
    try:
        poll(lambda: sum(e["t"] == "motion" for e in screen.target.events(mark)) >= 5, "the technician's motion")
        a.event("control.key", action="down", key="Control", code="ControlLeft", modifiers=["ctrl"])  # held
        screen.customer("key", hotkey)
        poll(lambda: not a.policy.permissions.control, "control to be taken back")
    finally:
        done.set()
        moving.result(30)
    assert a.records("policy")[-1]["change"] == "revoke_control"
    assert a.records("policy")[-1]["by"].startswith("customer (hotkey ")
    assert a.sent[-1]["granted"] is False
    assert "You took back control of your mouse and keyboard." in a.told
    grabbed = "space" if "space" in hotkey else "Pause"
    assert grabbed not in screen.target.keysyms(mark)  # the hotkey went to the agent, not the program
    poll(lambda: not a.service.watching, "the agent to stop watching")
    assert a.call("control.key", combo="Enter")["code"] == "not_granted"


def test_the_hotkeys_are_the_customers_own_keys_while_control_is_not_granted(screen: Screen,
                                                                             agent: Callable[..., Agent]) -> None:
    a = agent()
    mark = screen.target.mark()
    screen.customer("key", "Pause")
    poll(lambda: "Pause" in screen.target.keysyms(mark), "Pause to reach the program")
    a.grant()
    a.service.revoke("customer (window)")
    poll(lambda: not a.service.watching, "the agent to stop watching")
    mark = screen.target.mark()
    screen.customer("key", "Pause")
    poll(lambda: "Pause" in screen.target.keysyms(mark), "Pause to reach the program again")
    assert [r["by"] for r in a.records("policy")] == ["customer (test)", "customer (window)"]


def test_without_the_grant_nothing_is_injected(screen: Screen, agent: Callable[..., Agent]) -> None:
    a = agent()
    mark = screen.target.mark()
    reply = a.call("control.click", x=100, y=100)
    assert reply.type == "error" and reply["code"] == "not_granted"
    a.event("control.pointer", action="click", x=100, y=100, button=1)
    a.event("control.text", text="nope")
    assert a.call("control.type", text="nope")["code"] == "not_granted"
    a.grant()  # a round trip through the injection thread: anything queued would have run by now
    assert a.call("control.move", x=5, y=5).type == "response"
    poll(lambda: any(e["t"] == "motion" and e["x"] == 5 for e in screen.target.events(mark)), "the move")
    assert not [e for e in screen.target.events(mark) if e["t"] in ("down", "key")]
    assert not a.records("control")


def test_stop_lets_go_of_everything_and_undoes_key_bindings(screen: Screen, agent: Callable[..., Agent]) -> None:
    from Xlib import display as xdisplay

    before = {t.name for t in threading.enumerate()}
    a = agent(allow=True)  # --allow-control: watched from the start
    poll(lambda: a.service.watching, "the watch")
    mark = screen.target.mark()
    a.event("control.pointer", action="down", x=150, y=150, button=1)
    a.event("control.key", action="down", key="Shift", code="ShiftLeft", modifiers=["shift"])
    a.event("control.text", text="ж")
    poll(lambda: screen.target.typed(mark) == "ж", "the character")
    a.close()
    events = screen.target.events(mark)
    assert any(e["t"] == "up" and e["b"] == 1 for e in events)
    assert any(e["t"] == "keyup" and e["keysym"] == "Shift_L" for e in events)
    connection = xdisplay.Display(screen.display)
    try:
        info = connection.display.info
        mapping = connection.get_keyboard_mapping(info.min_keycode, info.max_keycode - info.min_keycode + 1)
        assert not any(0x01000436 in row for row in mapping)  # the temporary binding is gone
        held = 0x100 | 0x1 | 0x4 | 0x8  # Button1, Shift, Control, Mod1
        assert connection.screen().root.query_pointer().mask & held == 0  # nothing left pressed
    finally:
        connection.close()
    assert {t.name for t in threading.enumerate()} <= before


# -- whatever the keyboard layout -----------------------------------------------------------------------


def lock_second_group(display: str) -> None:
    """Switch the keyboard to its second layout, as the customer's layout switcher would."""
    from Xlib import X
    from Xlib import display as xdisplay
    from Xlib.ext import xtest

    connection = xdisplay.Display(display)
    try:
        info = connection.display.info
        mapping = connection.get_keyboard_mapping(info.min_keycode, info.max_keycode - info.min_keycode + 1)
        spare = next(info.min_keycode + i for i, row in enumerate(mapping) if not any(row))
        connection.change_keyboard_mapping(spare, [(0xFE08, 0xFE08)])  # ISO_Next_Group
        connection.sync()
        xtest.fake_input(connection, X.KeyPress, spare)
        xtest.fake_input(connection, X.KeyRelease, spare)
        connection.sync()
        connection.change_keyboard_mapping(spare, [(0, 0)])
        connection.sync()
    finally:
        connection.close()


@pytest.mark.parametrize("layout", ["fr", "de", "ru", "us,ru:second"])
def test_text_lands_exactly_whatever_the_layout(tmp_path: Path, layout: str) -> None:
    need_tools()
    requires.tool("setxkbmap", "x11-xkb-utils")
    private = Screen()  # its own server: the layout must not leak into the other tests
    a: Agent | None = None
    try:
        name, _, group = layout.partition(":")
        subprocess.run(["setxkbmap", "-layout", name], env=private.xvfb.env(), check=True, timeout=20)
        if group == "second":
            lock_second_group(private.display)
        a = Agent(private.display, tmp_path / "agent")
        a.grant()
        text = "héllo ç ß ж Zz@AQ1!€"
        mark = private.target.mark()
        assert a.call("control.type", text=text).type == "response"
        poll(lambda: len(private.target.typed(mark)) >= len(text),
             f"the text on layout {layout}; the program got {private.target.typed(mark)!r}, "
             f"{[e for e in private.target.events(mark) if e['t'] == 'key']}")
        assert private.target.typed(mark) == text
        mark = private.target.mark()
        assert a.call("control.key", combo="ctrl+a").type == "response"
        poll(lambda: "a" in private.target.keysyms(mark), "ctrl+a")
        keysyms = private.target.keysyms(mark)
        assert keysyms[keysyms.index("Control_L") + 1] == "a"
    finally:
        if a is not None:
            a.close()
        private.stop()

