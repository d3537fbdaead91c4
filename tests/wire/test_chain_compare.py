"""A journal's end, and the journal against the relay's copy (finding 7 of issue 14).

Each attack here leaves a chain that holds on its own: an edit with every later hash
recomputed, the last records removed, a forged end record in their place.  The chain
alone cannot tell; the end record and the relay's copy can.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.journal import Journal
from wire.chain import GENESIS, canonical, record_hash, verify_file
from wire.chain_compare import compare_files
from workbench.cli import VERIFY_EXIT


def a_session(folder: Path, calls: int = 4) -> tuple[Path, Path]:
    """An agent's journal of a whole session and the relay's copy of it (what the relay writes: the same lines)."""
    journal = Journal(folder / "agent.jsonl")
    journal.append("consent", terms="terms-en", terms_sha256="0" * 64, how="test")
    journal.append("session_start", session_id="s1", technician="Alice")
    for n in range(calls):
        journal.append("call", request=f"r{n}", method="files.read", params={"path": f"/home/ana/{n}.txt"})
        journal.append("outcome", request=f"r{n}", outcome="ok")
    journal.append("session_end", session_id="s1", reason="technician_closed", by="technician")
    journal.close()
    session_dir = folder / "relay" / "sessions" / "s1"
    session_dir.mkdir(parents=True)
    shutil.copyfile(journal.path, session_dir / "journal.jsonl")
    end = journal.records[-1]
    (session_dir / "session.json").write_text(json.dumps(
        {"session_id": "s1", "journal_end": {"seq": end["seq"], "head": end["hash"]}}))
    return journal.path, session_dir


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def rewrite(path: Path, records: list[dict[str, Any]]) -> None:
    """Write *records* back, every link and hash recomputed: the chain holds again."""
    prev = GENESIS
    lines = []
    for seq, record in enumerate(records, 1):
        record = {k: v for k, v in record.items() if k != "hash"}
        record.update(seq=seq, prev=prev)
        record["hash"] = prev = record_hash(record)
        lines.append(canonical(record) + b"\n")
    path.write_bytes(b"".join(lines))


def verify_command(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench.cli", "journal", "verify", *map(str, args)],
                          capture_output=True, text=True, timeout=60)


def test_a_whole_session_verifies_alone_and_against_the_relay(tmp_path: Path) -> None:
    journal, session_dir = a_session(tmp_path)
    assert verify_file(journal).status == "verified"
    assert compare_files(journal, session_dir).status == "verified"
    assert compare_files(journal, session_dir / "journal.jsonl").status == "verified"
    result = verify_command(journal, "--against", session_dir)
    assert result.returncode == 0 and "matches the relay's copy record by record" in result.stdout


def test_an_edit_with_every_hash_recomputed_passes_alone_but_not_against_the_relay(tmp_path: Path) -> None:
    journal, session_dir = a_session(tmp_path)
    records = read(journal)
    records[4]["params"] = {"path": "/home/ana/nothing-to-see.txt"}  # record 5: the second files.read
    rewrite(journal, records)
    assert verify_file(journal).status == "verified"  # the chain alone is fooled

    comparison = compare_files(journal, session_dir)
    assert comparison.status == "differs"
    assert [d.seq for d in comparison.differences] == list(range(5, len(records) + 1))
    assert comparison.differences[0].fields == ["hash", "params"]
    assert all(d.links_only for d in comparison.differences[1:])

    result = verify_command(journal, "--against", session_dir)
    assert result.returncode == VERIFY_EXIT["differs"] == 1
    assert "journal DIFFERS from the relay's copy" in result.stdout
    assert "record 5 differs: params" in result.stdout and "nothing-to-see" in result.stdout
    assert "the hashes were recomputed after an edit" in result.stdout


def test_the_last_records_dropped_are_reported_as_truncated(tmp_path: Path) -> None:
    journal, session_dir = a_session(tmp_path)
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join(lines[:-3]))  # a call, its outcome and the end record gone

    alone = verify_file(journal)
    assert alone.ok and alone.status == "incomplete" and alone.last_kind == "outcome"
    result = verify_command(journal)
    assert result.returncode == VERIFY_EXIT["incomplete"] == 3
    assert "journal INCOMPLETE" in result.stdout and "does not end with the session's end record" in result.stdout

    comparison = compare_files(journal, session_dir)
    assert comparison.status == "truncated" and comparison.missing == (len(lines) - 2, len(lines))
    result = verify_command(journal, "--against", session_dir)
    assert result.returncode == VERIFY_EXIT["truncated"] == 3
    assert "journal TRUNCATED" in result.stdout
    assert f"records {len(lines) - 2}–{len(lines)} are in the relay's copy but not in the journal" in result.stdout


def test_a_forged_end_record_after_a_cut_is_caught_against_the_relay(tmp_path: Path) -> None:
    journal, session_dir = a_session(tmp_path)
    records = read(journal)
    end = records[-1]
    records = [*records[:-5], end]  # the last two calls removed, the end record put back, hashes recomputed
    rewrite(journal, records)
    assert verify_file(journal).status == "verified"  # alone, nothing shows
    comparison = compare_files(journal, session_dir)
    assert comparison.status == "differs"
    assert comparison.differences[0].seq == len(records) and "kind" in comparison.differences[0].fields
    assert comparison.missing is not None


def test_a_relay_copy_cut_after_the_session_is_named(tmp_path: Path) -> None:
    journal, session_dir = a_session(tmp_path)
    copy = session_dir / "journal.jsonl"
    copy.write_bytes(b"".join(copy.read_bytes().splitlines(keepends=True)[:-2]))
    comparison = compare_files(journal, session_dir)
    assert comparison.status == "differs"
    assert "session.json says the relay closed it at record" in comparison.describe()


def test_records_the_relay_never_received_are_unconfirmed(tmp_path: Path) -> None:
    """The relay's copy stops (it was down) where the journal goes on: nothing confirms the rest."""
    journal, session_dir = a_session(tmp_path)
    copy = session_dir / "journal.jsonl"
    copy.write_bytes(b"".join(copy.read_bytes().splitlines(keepends=True)[:4]))
    (session_dir / "session.json").unlink()
    comparison = compare_files(journal, copy)
    assert comparison.status == "unconfirmed" and comparison.unconfirmed == (5, len(read(journal)))
    assert verify_command(journal, "--against", copy).returncode == VERIFY_EXIT["unconfirmed"] == 4


def test_a_note_after_the_end_is_neither_a_cut_nor_unconfirmed(tmp_path: Path) -> None:
    journal, session_dir = a_session(tmp_path)
    reopened = Journal(journal)
    reopened.append("note", words="the relay refused to resume; the session is over")
    reopened.close()
    assert verify_file(journal).status == "verified"
    assert compare_files(journal, session_dir).status == "verified"


@pytest.mark.parametrize("against", ["missing.jsonl", "bad-meta"])
def test_an_unreadable_relay_copy_is_status_2(tmp_path: Path, against: str) -> None:
    journal, session_dir = a_session(tmp_path)
    if against == "bad-meta":
        (session_dir / "session.json").write_text("{not json")
        target = session_dir
    else:
        target = tmp_path / against
    result = verify_command(journal, "--against", target)
    assert result.returncode == 2 and "cannot read" in result.stderr and "Traceback" not in result.stderr
