"""`workbench demo` starts a working customer: its own virtual screen, a relay, an agent with its window."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from workbench import connect
from workbench.lab import Proc, free_port, python_env


@pytest.mark.needs("Xvfb", "xvfb")
def test_demo_serves_one_customer_after_another(tmp_path: Path, procs: list[Proc]) -> None:
    port = free_port()
    env = {k: v for k, v in python_env().items() if k != "DISPLAY"}  # the demo starts its own screen
    demo = Proc([sys.executable, "-m", "workbench.cli", "demo", "--no-lab", "--port", str(port),
                 "--data", str(tmp_path / "demo")], env=env, name="demo")
    procs.append(demo)
    demo.wait_for(r"virtual screen started on display")
    code = demo.wait_for(r"customer agent ready: session code (\d{3} \d{3} \d{3})", timeout=60).group(1)
    assert (tmp_path / "demo" / "code.txt").read_text().strip() == code

    s = connect(code, relay=f"ws://127.0.0.1:{port}", name="demo test")
    assert s.screenshot().size[0] > 0  # the agent sees the virtual screen
    listing = s.files.list(str(tmp_path / "demo" / "customer"))
    assert {entry.name for entry in listing} >= {"settings.ini", "logs", "Private"}
    s.close()
    fresh = demo.wait_for(r"customer agent ready: session code (\d{3} \d{3} \d{3})", timeout=60).group(1)
    assert fresh != code  # the next customer waits with a new code

    demo.signal(signal.SIGINT)
    assert demo.wait(60) == 0
