"""The customer's Windows download, under Wine, through the Linux relay to a technician."""

from __future__ import annotations

from pathlib import Path

from tests.windows.wine import WineHost
from wire.chain import read_records, verify_file
from workbench import connect
from workbench.lab import Proc


def test_a_whole_session_with_the_windows_agent(wine_host: WineHost, relay: tuple[Proc, str, Path],
                                                 procs: list[Proc], tmp_path: Path) -> None:
    _, url, relay_data = relay
    agent, code = wine_host.start_agent(url, tmp_path / "agent")
    procs.append(agent)
    s = connect(code, relay=url, name="Alice")
    agent.wait_for(r"Alice")
    assert str(s.machine["os"]).startswith("Windows"), s.machine
    assert s.ping() > 0
    s.close()
    assert agent.wait(60) == 0

    (journal,) = sorted((tmp_path / "agent" / "journals").glob("*.jsonl"))
    assert b"\r\n" not in journal.read_bytes()  # the same bytes as on Linux: lines end with "\n" alone
    result = verify_file(journal)
    assert result.ok, result
    kinds = [record["kind"] for record in read_records(journal)]
    assert kinds[0] == "consent" and kinds[-1] == "session_end"
    (session_dir,) = (relay_data / "sessions").iterdir()
    assert verify_file(session_dir / "journal.jsonl").head == result.head
