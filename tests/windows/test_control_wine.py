"""Control (T6) with the customer first (C1) on the Windows agent, run for real under Wine.

The customer's Windows download runs ``workbench-agent --allow-control`` under Wine on its
Xvfb; the technician, through the Linux relay, clicks into Wine's notepad and types, read
back from notepad itself (``WM_GETTEXT``, by ``notepad_target.py``).  Then the customer moves
their mouse: ``xdotool`` on the Linux side of Wine's X display, which Wine turns into
*physical* input (its hooks see no injected flag and no mark).  The technician's input is
held back while they keep moving and the notebook call says why (``customer_priority``);
it resumes once they have been idle for the grace period; Pause takes control back.

Measured under Wine 8 (``test_what_wines_hooks_see_of_our_sendinput``), and what it cannot prove:

- Wine sets ``LLMHF_INJECTED`` / ``LLKHF_INJECTED`` on ``SendInput`` events, as Windows
  documents, and hands ``dwExtraInfo`` (the agent's mark) to the hooks unchanged; X input
  arrives with neither.  That Windows itself does the same is the documentation's word,
  held by ``tests/test_control_windows.py`` with the documented flag values.
- Wine differs from Windows here: while a low-level mouse hook is installed, an injected
  absolute move does not move the X pointer (the click is still delivered at the injected
  position), and Wine adds an injected pointer move without the mark after each injected
  click.  The agent counts such unmarked injected events as another program's, not the
  customer's, so they do not hold the technician back.
- Not provable under Wine: UIPI (Wine has no integrity levels: a window run as administrator
  refusing input), the secure desktop (no UAC prompt, no Ctrl+Alt+Del screen; Wine's input
  desktop is always ``Default``, so the agent's ``input_blocked`` answer is held by the unit
  tests only), Ctrl+Alt+Del as the secure attention sequence, ``LowLevelHooksTimeout``,
  multi-monitor virtual screens with negative origins, and DPI scaling.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import requires
from tests.windows.wine import WineHost, windows_path
from wire.chain import read_records
from wire.errors import CustomerPriority, NotGranted
from workbench import connect
from workbench.lab import Proc

HERE = Path(__file__).resolve().parent
TEXT = "héllo ç ß ж€"


def poll(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_what_wines_hooks_see_of_our_sendinput(wine_host: WineHost) -> None:
    done = wine_host.run_python(windows_path(HERE / "hooks_probe.py"), timeout=120)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    seen = report["seen"]
    assert seen["ours"] >= report["expected"], report  # every event came back with our mark
    assert seen["ours flagged injected"] == seen["ours"], report  # and with Wine's injected flag
    assert report["customers"] == 0, report  # none of it counted as the customer's
    assert report["desktop"] == "Default", report
    assert report["input_size"] == 40, report  # SendInput's cbSize on 64-bit Windows (Linux's LONG is wider)


class Notepad:
    """Wine's notepad and the reader of its text, under Wine."""

    def __init__(self, host: WineHost, stop_file: Path) -> None:
        self.stop_file = stop_file
        self.proc = Proc(["timeout", "300", "wine", str(host.python), windows_path(HERE / "notepad_target.py"),
                          windows_path(stop_file)], env=host.env(), name="notepad_target")
        line = self.proc.wait_for(r'"t": "ready"', timeout=90).string
        self.edit: list[int] = json.loads(line)["edit"]

    def text(self) -> str:
        texts = [json.loads(line)["text"] for line in self.proc.lines if line.startswith('{"t": "text"')]
        return texts[-1] if texts else ""

    def stop(self) -> None:
        self.stop_file.write_text("stop")
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.stop()


def test_the_technician_types_into_notepad_and_the_customer_wins(
        wine_host: WineHost, relay: tuple[Proc, str, Path], procs: list[Proc], tmp_path: Path) -> None:
    requires.tool("xdotool", "xdotool")
    _, url, _ = relay
    notepad = Notepad(wine_host, tmp_path / "stop")
    procs.append(notepad.proc)
    agent, code = wine_host.start_agent(url, tmp_path / "agent", "--allow-control")
    procs.append(agent)

    def customer(*args: str) -> None:
        subprocess.run(["xdotool", *args], env={**wine_host.env()}, check=True, timeout=20,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def journal() -> list[dict[str, Any]]:
        return [record for path in sorted((tmp_path / "agent" / "journals").glob("*.jsonl"))
                for record in read_records(path)]

    left, top, right, bottom = notepad.edit
    s = connect(code, relay=url, name="Alice")
    try:
        assert s.control.click(left + 40, top + 40) == {"x": left + 40, "y": top + 40, "button": 1, "count": 1}
        assert s.control.type(TEXT) == {"typed": len(TEXT)}
        poll(lambda: notepad.text() == TEXT, f"notepad to read {TEXT!r}")

        # The customer takes their mouse (over notepad, so Wine's X window receives it) and keeps moving it.
        # A call either goes in whole before the agent sees the customer, or waits and fails with
        # nothing injected: the text must end with exactly one "X" per call that returned.
        customer("mousemove", str((left + right) // 2), str((top + bottom) // 2))
        returned = 0
        with pytest.raises(CustomerPriority) as caught:
            for _ in range(40):
                customer("mousemove_relative", "--", "3", "2")
                s.control.type("X", timeout=0.3)
                returned += 1
        assert "the customer is using their computer" in caught.value.message

        def typed_once_idle() -> bool:
            try:
                s.control.type("!", timeout=5)
            except CustomerPriority:
                return False
            return True

        poll(typed_once_idle, "the technician's input to resume once the customer is idle")
        expected = TEXT + "X" * returned + "!"
        poll(lambda: notepad.text() == expected, f"notepad to read {expected!r}")

        customer("key", "Pause")  # the customer's take-back hotkey, seen by the keyboard hook
        poll(lambda: any(r.get("change") == "revoke_control" for r in journal()), "the take-back")
        with pytest.raises(NotGranted):
            s.control.key("ctrl+s")
    finally:
        s.close()
        notepad.stop()
    assert agent.wait(60) == 0
    revoked = [r for r in journal() if r.get("change") == "revoke_control"]
    assert revoked and "Pause" in revoked[0]["by"], revoked
