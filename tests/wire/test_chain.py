"""The hash-chained journal: appends, verification, tampering, crashes."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent.journal import Journal
from wire.chain import GENESIS, ChainError, ChainFollower, canonical, read_records, record_hash, verify_file


def make_journal(path: Path, count: int = 5) -> Journal:
    journal = Journal(path)
    for i in range(count):
        journal.append("call", request=f"r{i}", method="session.ping", words="ping")
    return journal


def test_records_chain_and_verify(tmp_path: Path) -> None:
    journal = make_journal(tmp_path / "j.jsonl")
    records = read_records(tmp_path / "j.jsonl")
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
    assert records[0]["prev"] == GENESIS
    assert all(b["prev"] == a["hash"] for a, b in itertools.pairwise(records))
    result = verify_file(tmp_path / "j.jsonl")
    assert result.ok and result.records == 5 and result.head == journal.head


def test_an_edited_record_is_named(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    make_journal(path).close()
    lines = path.read_text().splitlines()
    record = json.loads(lines[2])
    record["method"] = "files.delete"
    lines[2] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")
    result = verify_file(path)
    assert not result.ok and result.first_bad == 3 and "hash" in result.reason


def test_a_rehashed_edit_still_breaks_the_next_link(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    make_journal(path).close()
    lines = path.read_text().splitlines()
    record = json.loads(lines[1])
    record["method"] = "files.delete"
    record["hash"] = record_hash(record)
    lines[1] = canonical(record).decode()  # written as the writer writes it: only the next link can tell
    path.write_text("\n".join(lines) + "\n")
    result = verify_file(path)
    assert not result.ok and result.first_bad == 3 and "prev" in result.reason


def test_a_removed_record_is_named(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    make_journal(path).close()
    lines = path.read_text().splitlines()
    del lines[1]
    path.write_text("\n".join(lines) + "\n")
    result = verify_file(path)
    assert not result.ok and result.first_bad == 2


def test_a_torn_last_line_verifies_up_to_it_and_is_cut_on_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    make_journal(path, 3).close()
    with open(path, "ab") as f:
        f.write(b'{"seq":4,"time":"2026-')
    result = verify_file(path)
    assert result.ok and result.records == 3 and result.torn_tail
    reopened = Journal(path)
    assert reopened.seq == 3
    reopened.append("call", method="session.ping")
    assert verify_file(path).ok and verify_file(path).records == 4


def test_reopening_refuses_a_journal_that_does_not_verify(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    make_journal(path, 3).close()
    path.write_text(path.read_text().replace("r1", "rX"))
    with pytest.raises(ChainError):
        Journal(path)


def test_follower_rejects_replays_and_gaps() -> None:
    follower = ChainFollower()
    first = {"seq": 1, "kind": "x", "prev": GENESIS}
    first["hash"] = record_hash(first)
    follower.check(first)
    with pytest.raises(ChainError):
        follower.check(first)
    third = {"seq": 3, "kind": "x", "prev": first["hash"]}
    third["hash"] = record_hash(third)
    with pytest.raises(ChainError):
        follower.check(third)


def test_journal_verify_command_names_the_first_bad_record(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = make_journal(path)
    journal.append("session_end", reason="technician_closed", by="technician")
    journal.close()
    good = subprocess.run([sys.executable, "-m", "workbench.cli", "journal", "verify", str(path)],
                          capture_output=True, text=True)
    assert good.returncode == 0 and "journal verifies: 6 records" in good.stdout
    path.write_text(path.read_text().replace('"r3"', '"r9"'))
    bad = subprocess.run([sys.executable, "-m", "workbench.cli", "journal", "verify", str(path)],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "first bad record is 4" in bad.stdout


@pytest.mark.parametrize("nested", [
    {"hash": "0" * 64},  # a nested member that looks like the top-level one
    {"note": '"hash":"' + "a" * 64 + '",'},  # the member's text inside a string (escaped there)
    {"hash": None, "list": [{"hash": "b" * 64}]},
])
def test_the_follower_hashes_a_record_from_its_one_encoding_as_record_hash_does(nested: dict[str, object]) -> None:
    """The relay's check encodes a record once (its line and its hash); it must agree with record_hash."""
    record: dict[str, object] = {"seq": 1, "time": "2026-01-01T00:00:00+00:00", "kind": "call", "prev": GENESIS,
                                 "params": nested, "words": "é"}
    record["hash"] = record_hash(record)
    assert ChainFollower().check(record) == canonical(record)
    forged = dict(record, hash="f" * 64)  # hex, the right length, and wrong
    with pytest.raises(ChainError, match="hash does not match"):
        ChainFollower().check(forged)
    nested_copy = dict(record, params={**nested, "hash": record["hash"]})  # a chain hash nested in the record
    nested_copy["hash"] = record_hash(nested_copy)
    assert ChainFollower().check(nested_copy) == canonical(nested_copy)
