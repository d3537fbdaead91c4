"""Finding 6 of issue 14: an upload's ``.part`` file never outlives its upload.

Recorded before it is made (:mod:`agent.files.parts`), removed when the
session ends (``close_transfers``), and after a crash at the next start
(``clean_leftovers``), only from the registry: a file the agent did not make,
even one named like a ``.part``, is never touched.  And no space is reserved
ahead of the bytes (on Linux, the blocks of the next two chunks), so an abandoned upload holds
little more than what arrived.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent import files
from tests.files.harness import Agent

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024


def parts_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_an_upload_reserves_no_space_ahead_of_its_bytes(agent: Agent, home: Path) -> None:
    opened = agent("files.upload_open", path=str(home / "big.bin"), size=256 * MIB)
    agent("files.upload_chunk", b"x" * 1000, id=opened["id"], offset=0)
    (part,) = parts_in(home)
    assert (home / part).stat().st_blocks * 512 < 16 * MIB  # what arrived, not the 256 MiB announced


@pytest.mark.skipif(sys.platform != "linux", reason="fallocate(2) is Linux's; elsewhere nothing is reserved")
def test_an_upload_allocates_its_blocks_a_little_ahead_of_its_bytes_and_keeps_its_size(
        agent: Agent, home: Path) -> None:
    """Writes into allocated blocks cost the kernel less; the ``.part``'s size still says what arrived."""
    opened = agent("files.upload_open", path=str(home / "big.bin"), size=256 * MIB)
    agent("files.upload_chunk", b"x" * 1000, id=opened["id"], offset=0)
    (part,) = parts_in(home)
    st = (home / part).stat()
    assert st.st_size == 1000
    assert st.st_blocks * 512 >= 8 * MIB  # the next two chunks' blocks are there before their bytes


def test_the_end_of_a_session_removes_every_open_upload_part(agent: Agent, home: Path) -> None:
    for name in ("a.bin", "b.bin"):
        opened = agent("files.upload_open", path=str(home / name), size=2000)
        agent("files.upload_chunk", b"x" * 1000, id=opened["id"], offset=0)
    download = agent("files.download_open", path=str(home / parts_in(home)[0]))
    assert len(parts_in(home)) == 2
    assert files.close_transfers(agent.state_dir) == 3
    assert parts_in(home) == []
    assert list((agent.state_dir / "files" / "parts").iterdir()) == []
    assert agent.error("files.upload_status", id=opened["id"]).code == "not_found"
    assert agent.error("files.download_chunk", id=download["id"], offset=0).code == "not_found"


def test_a_finished_or_aborted_upload_leaves_no_record(agent: Agent, home: Path) -> None:
    opened = agent("files.upload_open", path=str(home / "done.bin"), size=3)
    agent("files.upload_chunk", b"abc", id=opened["id"], offset=0)
    agent("files.upload_finish", id=opened["id"])
    aborted = agent("files.upload_open", path=str(home / "gone.bin"), size=3)
    agent("files.upload_abort", id=aborted["id"])
    assert (home / "done.bin").read_bytes() == b"abc" and parts_in(home) == []
    assert list((agent.state_dir / "files" / "parts").iterdir()) == []


def test_the_next_start_removes_the_parts_a_killed_agent_left_and_nothing_else(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # A real process opens two uploads through the real handlers, then is killed (no clean-up can run).
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import os, sys
        from pathlib import Path
        sys.path.insert(0, {str(ROOT)!r})
        from tests.files.harness import Agent
        agent = Agent(Path({str(tmp_path)!r}))
        for name in ("one.bin", "two.bin"):
            opened = agent("files.upload_open", path={str(home)!r} + "/" + name, size=4 * 1024 * 1024)
            agent("files.upload_chunk", b"y" * 100000, id=opened["id"], offset=0)
        print("ready", flush=True)
        sys.stdin.read()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    left = parts_in(home)
    assert len(left) == 2
    # Not the agent's: a file named like a .part, and a recorded .part replaced by another file.
    (home / ".mine.wb-00000000.part").write_bytes(b"the customer's own")
    registry = tmp_path / "agent-state" / "files" / "parts"
    records = [json.loads(p.read_text()) for p in sorted(registry.glob("*.json"))]
    assert sorted(r["name"] for r in records) == left
    replaced = home / left[1]
    (home / "new.txt").write_bytes(b"a new file that took the name")
    os.replace(home / "new.txt", replaced)
    removed = files.clean_leftovers(tmp_path / "agent-state")
    assert removed == [str(home / left[0])]
    assert parts_in(home) == sorted([".mine.wb-00000000.part", left[1]])
    assert replaced.read_bytes() == b"a new file that took the name"
    assert list(registry.iterdir()) == []
    assert files.clean_leftovers(tmp_path / "agent-state") == []


def test_a_damaged_record_names_nothing_to_remove(tmp_path: Path, home: Path) -> None:
    registry = tmp_path / "agent-state" / "files" / "parts"
    registry.mkdir(parents=True)
    victim = home / "important.txt"
    victim.write_text("keep me")
    st = os.stat(home)
    (registry / "aaaa.json").write_text(json.dumps({"id": "aaaa", "folder": str(home), "name": "important.txt",
                                                    "folder_identity": [st.st_dev, st.st_ino]}))
    (registry / "bbbb.json").write_text("{not json")
    assert files.clean_leftovers(tmp_path / "agent-state") == []
    assert victim.read_text() == "keep me"
    assert list(registry.iterdir()) == []
