"""A macOS customer's agent, imitated on Linux as tests/platform_probe.py does: it starts, consents, serves
what its backends have, and says plainly what it cannot do yet.

The agent runs for real (``agent.cli.main``) in a subprocess whose ``sys.platform`` is "darwin", with the
names macOS lacks removed and X11 gone, against a real relay; a real technician connects. Where the
imitation stops (the standard library stays Linux's, so mss would still look for X11, and there is no
``defaults`` command here): a real Mac is needed for the screen, and for the ``defaults`` backend's
values (tests/test_registry_defaults.py holds its parsing).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.limits import LIMITS, known_limits
from workbench import WorkbenchError, connect
from workbench.lab import Proc, start_relay

ROOT = Path(__file__).resolve().parent.parent

AS_ON_A_MAC = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from tests import platform_probe
platform_probe.walk(None, [])  # the libraries, on the real platform
platform_probe.imitate("darwin")
from agent.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def relay_url(tmp_path: Path) -> Iterator[str]:
    proc, url = start_relay(tmp_path / "relay-data")
    try:
        yield url
    finally:
        proc.stop()


def test_the_mac_agent_consents_serves_and_says_what_it_cannot_do(relay_url: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "Documents").mkdir(parents=True)
    (home / "Documents" / "note.txt").write_text("hello", encoding="utf-8")
    agent = Proc([sys.executable, "-c", AS_ON_A_MAC, "--relay", relay_url, "--accept-terms", "--no-window",
                  "--data", str(tmp_path / "agent")], name="mac-agent")
    try:
        code = agent.wait_for(r"session code: (\d{3} \d{3} \d{3})", timeout=60).group(1)
        s = connect(code, relay=relay_url, name="Alice")
        told = "\n".join(agent.lines)  # told to the customer at the start (before the code), in plain words
        assert all(line in told for line in LIMITS["darwin"]), told
        facts = list(s.inventory())
        assert facts and all(f.status and f.source for f in facts)
        assert any(f.name == "os.kernel" and f.ok for f in facts)
        assert [e.name for e in s.files.list(str(home / "Documents"))] == ["note.txt"]
        with pytest.raises(WorkbenchError, match="defaults"):
            s.registry.keys("")  # the honest equivalent of the registry; no `defaults` on this Linux
        s.close()
        assert agent.wait(30) == 0
    finally:
        agent.stop()


def test_the_limits_are_said_on_a_mac_only() -> None:
    assert known_limits("darwin") and all(line.startswith("On this Mac") for line in known_limits("darwin"))
    assert known_limits("linux") == []
