"""The agent and the relay cross-check the journal's head while the session runs (finding 7 of issue 14).

Real processes on loopback.  The relay's copy is edited while the relay is down (a record
changed, every later hash recomputed: its chain holds), and the relay restarts from it; when
the agent resumes, the heads disagree and both sides say so: the customer's console, the
relay's log and ``session.json``, the technician.  Afterwards ``workbench journal verify
--against`` names the record that differs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from wire.chain import GENESIS, canonical, read_records, record_hash
from workbench import connect
from workbench.lab import Proc, free_port, start_agent, start_relay


def lines(path: Path) -> list[dict[str, Any]]:
    return read_records(path)


def test_a_relay_copy_that_parts_from_the_journal_is_an_alert_on_both_sides(
        tmp_path: Path, procs: list[Proc]) -> None:
    port = free_port()
    relay, url = start_relay(tmp_path / "relay", port)
    procs.append(relay)
    agent, code = start_agent(url, tmp_path / "agent")
    procs.append(agent)
    s = connect(code, relay=url, name="Alice")
    s.ping()
    s.ping()
    (journal,) = (tmp_path / "agent" / "journals").glob("*.jsonl")
    written = len(lines(journal))
    for _ in range(200):  # each status is a round trip; the agent streams its records within 50 ms
        if s.relay_status()["journal_seq"] >= written:
            break
    (session_dir,) = (tmp_path / "relay" / "sessions").iterdir()
    relay.kill()

    copy = session_dir / "journal.jsonl"
    records = lines(copy)
    assert len(records) >= written
    call = next(i for i, r in enumerate(records) if r["kind"] == "call")
    records[call]["method"] = "files.delete"  # edited, and the chain made whole again
    prev = GENESIS
    for record in records:
        record["prev"] = prev
        record["hash"] = prev = record_hash({k: v for k, v in record.items() if k != "hash"})
    copy.write_bytes(b"".join(canonical(r) + b"\n" for r in records))

    relay, _ = start_relay(tmp_path / "relay", port)
    procs.append(relay)
    agent.wait_for(r"Warning: .*copy of this session's journal does not match the journal on this computer")
    relay.wait_for(r"journal alert: .*differ")
    assert s.ping() > 0  # the session goes on; the relay's alert reached the technician before this answer
    assert s.journal_alerts and "differ" in s.journal_alerts[0]["reason"]
    meta = json.loads((session_dir / "session.json").read_text())
    assert [a["at"] for a in meta["journal_alerts"]] == [s.journal_alerts[0]["at"]]  # once, not per record
    s.close()
    assert agent.wait(30) == 0

    kinds = [r["kind"] for r in lines(journal)]
    assert "journal_alert" in kinds and kinds[-1] == "session_end"
    result = subprocess.run([sys.executable, "-m", "workbench.cli", "journal", "verify", str(journal),
                             "--against", str(session_dir)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stdout
    assert f"record {call + 1} differs: method" in result.stdout and "files.delete" in result.stdout
    assert "the relay raised a journal alert during the session" in result.stdout
