"""Control through the real chain: a notebook Session → the relay → ``workbench-agent --allow-control``
on Xvfb → a real program that records what it receives.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import requires
from wire.chain import read_records
from wire.errors import CustomerPriority, NotGranted
from workbench import connect
from workbench.lab import Proc, Xvfb, start_agent, start_relay

pytestmark = pytest.mark.e2e

TARGET = Path(__file__).with_name("control_target.py")


def poll(condition: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Lab:
    def __init__(self, root: Path) -> None:
        self.procs: list[Proc] = []
        self.xvfb = Xvfb(1024, 768)
        try:
            self.target = self.start([sys.executable, str(TARGET), "800", "600"], "target")
            self.target.wait_for('"t": "ready"')
            relay, self.url = start_relay(root / "relay")
            self.procs.append(relay)
            agent, self.code = start_agent(self.url, root / "agent", "--allow-control",
                                           env=self.xvfb.env(LANG="C.UTF-8"))
            self.procs.append(agent)
            self.agent = agent
            self.journals = root / "agent" / "journals"
        except BaseException:
            self.stop()
            raise

    def start(self, args: list[str], name: str) -> Proc:
        proc = Proc(args, env=self.xvfb.env(LANG="C.UTF-8"), name=name)
        self.procs.append(proc)
        return proc

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.target.lines[since:] if line.startswith("{")]

    def typed(self, since: int = 0) -> str:
        return "".join(e["char"] for e in self.events(since) if e["t"] == "key" and e["char"].isprintable())

    def journal(self) -> list[dict[str, Any]]:
        return [record for path in sorted(self.journals.glob("*.jsonl")) for record in read_records(path)]

    def customer(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], env=self.xvfb.env(), check=True, timeout=20,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.xvfb.stop()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    requires.tool("Xvfb", "xvfb")
    requires.tool("xdotool", "xdotool")
    made = Lab(tmp_path_factory.mktemp("control_agent"))
    try:
        yield made
    finally:
        made.stop()


def test_notebook_control_reaches_the_program_and_the_customer_wins(lab: Lab) -> None:
    s = connect(lab.code, relay=lab.url, name="Alice")
    try:
        mark = len(lab.target.lines)
        assert s.control.click(200, 150) == {"x": 200, "y": 150, "button": 1, "count": 1}
        s.control.type("héllo ç ß ж")
        s.control.key("Enter")
        poll(lambda: any(e["t"] == "key" and e["keysym"] == "Return" for e in lab.events(mark)), "Enter")
        assert [(e["b"], e["x"], e["y"]) for e in lab.events(mark) if e["t"] == "down"] == [(1, 200, 150)]
        assert lab.typed(mark) == "héllo ç ß ж"

        lab.customer("mousemove", "700", "500")  # the customer takes the mouse
        with pytest.raises(CustomerPriority):
            # keeps the customer "active" longer than the call waits: they move again each try
            for _ in range(20):
                lab.customer("mousemove_relative", "1", "0")
                s.control.click(100, 100, timeout=0.2)
        assert not [e for e in lab.events(mark) if e["t"] == "down" and e["x"] == 100]
        poll(lambda: _clicked(s), "control to resume once the customer is idle")

        lab.customer("key", "ctrl+alt+shift+space")  # the hotkey takes control back
        poll(lambda: any(r.get("change") == "revoke_control" for r in lab.journal()), "the take-back")
        with pytest.raises(NotGranted):
            s.control.key("ctrl+s")
        assert any(r.get("words") == "The technician typed 11 characters" for r in lab.journal())
    finally:
        s.close()


def _clicked(s: Any) -> bool:
    try:
        s.control.click(300, 300, timeout=5)
    except CustomerPriority:
        return False
    return True
