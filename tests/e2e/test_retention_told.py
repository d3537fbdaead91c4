"""R7 through real processes: the relay's retention policy reaches the customer when their session starts."""

from __future__ import annotations

import json
from pathlib import Path

from workbench import connect
from workbench.lab import Proc, start_agent, start_relay


def test_the_customer_is_told_what_is_kept_and_for_how_long(procs: list[Proc], tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"name": "short", "periods": {"recordings": "30d", "journals": "forever"}}))
    relay, url = start_relay(tmp_path / "relay", 0, "--retention", str(policy))
    procs.append(relay)
    agent, code = start_agent(url, tmp_path / "agent")
    procs.append(agent)
    s = connect(code, relay=url, name="Alice")
    line = agent.wait_for(r"keeps the records of this session: (.*)").group(1)
    assert "the recording of your screen for 30 days" in line
    assert "the journal of what was done without a time limit" in line
    assert "your personal details" in line  # classes the file leaves out keep the default's period
    s.close()
    assert agent.wait(30) == 0
