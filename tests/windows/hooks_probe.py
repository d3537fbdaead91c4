"""Run under Wine by ``test_control_wine.py``: what the low-level hooks see of the agent's own SendInput.

Installs the agent's :class:`~agent.control._windows_watch.WindowsWatch`, injects a
move, a click and typed text with its :class:`~agent.control._windows_inject.WindowsInjector`,
and prints, as one JSON line, the events the hooks counted per origin (``ours``,
``ours flagged injected``, ``physical``, ``other program``), what was reported as the
customer's, the input desktop's name and the virtual screen.  Windows-only.
"""

from __future__ import annotations

import json
import threading
import time

from agent.control import _windows_api as w
from agent.control._windows import new_mark
from agent.control._windows_inject import WindowsInjector
from agent.control._windows_watch import WindowsWatch
from agent.control.actions import Click, Move, TypeText


def main() -> int:
    api = w.load()
    mark = new_mark()
    customers: list[object] = []
    ready = threading.Event()
    watch = WindowsWatch(mark, customers.append, lambda on: on and ready.set(), lambda label: None, api)
    watch.start()
    watch.set_watching(True)
    if not ready.wait(10):
        print(json.dumps({"error": "the hooks were not installed"}), flush=True)
        return 1
    injector = WindowsInjector(mark, api)
    for action in (Move(50, 60), Click(70, 80), TypeText("aé")):
        injector.perform(action, 0, lambda: True)
    expected = 1 + 3 + 4  # the move; the click's move, press, release; two characters' down and up
    deadline = time.monotonic() + 10
    while watch.seen["ours"] < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    watch.close()
    print(json.dumps({"seen": dict(watch.seen), "expected": expected, "customers": len(customers),
                      "desktop": injector.input_desktop()[0],
                      "input_size": w.ctypes.sizeof(w.INPUT), "virtual": injector.virtual_screen()}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
