"""``--hide-monitor`` with the Windows agent, under Wine, through the Linux relay (issue 13, 14).

What this proves under Wine: the download's agent takes ``--hide-monitor N`` like the Linux
one, fills that monitor in every screenshot (mss's ``EnumDisplayMonitors`` list, 0-based as
``screen.monitors`` and ``s.screenshot(monitor=…)``), journals it, and refuses at start a
monitor the machine does not have.  What Wine cannot prove: several monitors (Wine on one
Xvfb screen has one; the two-monitor cases run on X11 in tests/test_screen_monitors.py and
tests/e2e/test_monitors_e2e.py, with the same platform-free code), monitors with negative
origins, and the window picker's ``EnumWindows`` list on a real desktop (its Win32 half is in
tests/windows/test_screen_wine.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agent.screen.hidden import FILL_BGRA
from tests.windows.wine import WineHost
from wire.errors import BadParams
from workbench import connect
from workbench.lab import Proc

FILL = np.array(FILL_BGRA[2::-1], dtype=np.uint8)


def test_hide_monitor_with_the_windows_agent(wine_host: WineHost, relay: tuple[Proc, str, Path],
                                             procs: list[Proc], tmp_path: Path) -> None:
    _, url, _ = relay
    agent, code = wine_host.start_agent(url, tmp_path / "agent", "--hide-monitor", "0")
    procs.append(agent)
    s = connect(code, relay=url, name="Alice")
    try:
        monitors = s.call("screen.monitors").value["monitors"]
        assert [m["index"] for m in monitors] == [0]
        whole = np.asarray(s.screenshot().convert("RGB"))
        assert whole.shape[:2] == (monitors[0]["height"], monitors[0]["width"])
        assert np.all(whole == FILL)
        assert np.all(np.asarray(s.screenshot(monitor=0).convert("RGB")) == FILL)
        with pytest.raises(BadParams):
            s.screenshot(monitor=1)
    finally:
        s.close()
    agent.wait(60)
    journal = next((tmp_path / "agent" / "journals").glob("*.jsonl"))
    records = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert any(r["kind"] == "policy" and r.get("change") == "hide_monitor" and r.get("monitor") == 0
               for r in records)

    # A monitor this machine lacks is refused before anything connects.
    with pytest.raises(RuntimeError, match="cannot hide monitor 1"):
        wine_host.start_agent(url, tmp_path / "agent2", "--hide-monitor", "1")
