"""The journal verifier under random damage: nothing but the genuine journal is ever reported as verified.

A valid journal (hash-chained records ending with the session's end record, written as
:class:`agent.journal.Journal` writes them) is edited at random: bytes changed, inserted
or removed, the file cut, lines swapped, removed or repeated, a record edited with its hash
(and every later hash) recomputed, the end forged.  The properties:

* :func:`wire.chain.verify_file` never answers ``verified`` unless every record it
  accepted is, byte for byte, the journal's own, up to and including the end record
  (a re-chained edit is beyond any chain alone: that is what the relay's copy is for);
* :func:`wire.chain_compare.compare_files` against the relay's (untouched) copy never
  answers ``verified`` for any change, re-chained or not, except records the agent may
  write after the end;
* neither raises anything but OSError, whatever the file holds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from agent.journal import Journal
from tests.fuzz.bounded import bounded
from wire.chain import AFTER_THE_END, END_KIND, GENESIS, canonical, record_hash, verify_file
from wire.chain_compare import compare_files

texts = st.text(max_size=12)
values = st.recursive(st.none() | st.booleans() | st.integers() | texts,
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
                      max_leaves=6)
middle_kinds = st.sampled_from(["call", "outcome", "consent", "alert", "note"])
bodies = st.dictionaries(st.sampled_from(["request", "method", "params", "words", "outcome"]), values, max_size=3)


def chained(records: list[dict[str, Any]]) -> list[bytes]:
    """*records* numbered and linked as the journal's writer does; one line each, newline included."""
    prev, lines = GENESIS, []
    for seq, fields in enumerate(records, 1):
        record = {k: v for k, v in fields.items() if k not in ("seq", "prev", "hash")}
        record.update(seq=seq, prev=prev)
        record["hash"] = prev = record_hash(record)
        lines.append(canonical(record) + b"\n")
    return lines


@st.composite
def journals(draw: st.DrawFn) -> list[bytes]:
    """The lines of a whole session's journal: start, some records, the end record, maybe a note after it."""
    records: list[dict[str, Any]] = [{"time": "2026-01-01T00:00:00+00:00", "kind": "session_start", "session_id": "s1"}]
    for fields in draw(st.lists(st.tuples(middle_kinds, bodies), max_size=5)):
        records.append({"time": "2026-01-01T00:00:01+00:00", "kind": fields[0], **fields[1]})
    records.append({"time": "2026-01-01T00:00:02+00:00", "kind": END_KIND, "reason": "technician_closed"})
    for _ in range(draw(st.integers(0, 2))):
        records.append({"time": "2026-01-01T00:00:03+00:00", "kind": draw(st.sampled_from(sorted(AFTER_THE_END)))})
    return chained(records)


def _end_index(lines: list[bytes]) -> int:
    return max(i for i, line in enumerate(lines) if json.loads(line)["kind"] == END_KIND)


@st.composite
def damaged(draw: st.DrawFn, lines: list[bytes]) -> bytes:
    """The journal *lines* with one random change (which may, rarely, change nothing)."""
    raw = b"".join(lines)
    how = draw(st.sampled_from(["byte", "insert", "remove", "cut", "swap", "drop", "repeat", "edit", "rechain",
                                "forged_end"]))
    at = draw(st.integers(0, len(raw) - 1))
    if how == "byte":
        return raw[:at] + bytes([draw(st.integers(0, 255))]) + raw[at + 1:]
    if how == "insert":
        return raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    if how == "remove":
        return raw[:at] + raw[at + draw(st.integers(1, 40)):]
    if how == "cut":
        return raw[:at]
    i = draw(st.integers(0, len(lines) - 1))
    j = draw(st.integers(0, len(lines) - 1))
    out = list(lines)
    if how == "swap":
        out[i], out[j] = out[j], out[i]
    elif how == "drop":
        del out[i]
    elif how == "repeat":
        out.insert(j, out[i])
    else:
        records = [json.loads(line) for line in lines]
        field = draw(st.sampled_from(["kind", "time", "words", "seq", "reason"]))
        records[i][field] = draw(values)
        if how == "edit":  # its own hash made right again, the chain after it left alone
            record = {k: v for k, v in records[i].items() if k != "hash"}
            records[i]["hash"] = record_hash(record)
            out[i] = canonical(records[i]) + b"\n"
        elif how == "rechain":  # an attacker's edit with every later hash recomputed: the chain holds
            out = chained(records)
        else:  # the last records dropped and a new end record made in their place
            keep = [*records[:i], {"time": "2026-01-01T00:00:09+00:00", "kind": END_KIND, "reason": "forged"}]
            out = chained(keep)
    return b"".join(out)


@given(journals(), st.data())
@bounded(400)
def test_a_damaged_journal_never_verifies_alone(tmp_path: Path, genuine: list[bytes], data: st.DataObject) -> None:
    path = tmp_path / "journal.jsonl"
    mutated = data.draw(damaged(genuine))
    path.write_bytes(mutated)
    result = verify_file(path)
    if result.status != "verified" or _rechained(mutated, genuine):
        return  # a re-chained edit is beyond any chain alone: the next property compares with the relay's copy
    accepted = mutated.splitlines()[:result.records]
    assert accepted == [line.rstrip(b"\n") for line in genuine[:result.records]], "an altered record verified"
    assert result.records > _end_index(genuine), "a journal cut before its end record verified"


def _rechained(mutated: bytes, genuine: list[bytes]) -> bool:
    """Whether *mutated* is a whole chain of its own (an attacker recomputed the links)."""
    try:
        records = [json.loads(line) for line in mutated.splitlines()]
    except ValueError:
        return False
    return [line.rstrip(b"\n") for line in chained(records)] == mutated.splitlines() and bool(records) and \
        records[0].get("prev") == GENESIS and mutated.splitlines() != [g.rstrip(b"\n") for g in genuine]


@given(journals(), st.data())
@bounded(300)
def test_a_damaged_journal_never_verifies_against_the_relays_copy(tmp_path: Path, genuine: list[bytes],
                                                                   data: st.DataObject) -> None:
    journal, copy = tmp_path / "journal.jsonl", tmp_path / "relay" / "journal.jsonl"
    copy.parent.mkdir(exist_ok=True)
    copy.write_bytes(b"".join(genuine))
    mutated = data.draw(damaged(genuine))
    journal.write_bytes(mutated)
    result = compare_files(journal, copy)
    if result.status != "verified":
        return
    lines = mutated.splitlines()
    assert lines[:len(genuine)] == [g.rstrip(b"\n") for g in genuine], "an altered journal matched the relay's copy"
    assert all(json.loads(line)["kind"] in AFTER_THE_END for line in lines[len(genuine):])


@given(st.lists(st.binary(max_size=60) | st.text(max_size=60).map(str.encode)
                | values.map(lambda v: json.dumps({"seq": 1, "prev": GENESIS, "v": v}).encode()), max_size=4))
@example([b"[" * 100_000])
@example([b'{"seq":1,"prev":"' + GENESIS.encode() + b'","kind":"session_end","s":"\\ud800"}'])
@example([b'{"seq":1,"kind":"session_end","kind":"x"}'])
@bounded(300)
def test_any_file_is_reported_never_raised(tmp_path: Path, lines: list[bytes]) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_bytes(b"\n".join(lines))
    result = verify_file(path)
    assert result.status in ("verified", "incomplete", "broken")
    result.describe()
    comparison = compare_files(path, path)
    assert comparison.status in ("verified", "incomplete", "differs", "truncated", "unconfirmed")
    comparison.describe()


def test_a_field_written_twice_does_not_verify(tmp_path: Path) -> None:
    """Found by the byte-level property: JSON keeps a repeated field's last value, a reader's eye its first.

    ``{"kind":"call", ..., "kind":"session_end"}`` hashed as its last value, so a hand-made
    line could show one thing and verify as another; lines must be exactly what the writer writes.
    """
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    journal.append("call", method="files.read", words="read notes.txt")
    journal.append(END_KIND, reason="technician_closed")
    journal.close()
    assert verify_file(path).status == "verified"
    lines = path.read_bytes().splitlines(keepends=True)
    lines[0] = lines[0].replace(b'{"hash"', b'{"words":"deleted every file","hash"', 1)
    path.write_bytes(b"".join(lines))
    assert json.loads(lines[0])["words"] == "read notes.txt"  # what a program reads is unchanged...
    result = verify_file(path)
    assert result.status == "broken" and result.first_bad == 1, result.describe()  # ...but the text is not


@pytest.mark.parametrize("old, new", [
    (b',"seq":1,', b', "seq":1,'),
    (b',"seq":1,', b',"seq":1.0,'),
    (b'"kind":"session_end"', b'"kind":"session\\u005fend"'),
])
def test_a_line_not_written_by_the_writer_does_not_verify(tmp_path: Path, old: bytes, new: bytes) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    journal.append(END_KIND, reason="technician_closed")
    journal.close()
    raw = path.read_bytes()
    assert old in raw
    path.write_bytes(raw.replace(old, new, 1))
    assert verify_file(path).status == "broken"


def test_a_journal_with_windows_line_ends_verifies(tmp_path: Path) -> None:
    """The Windows agent's journal ends its lines with CRLF (its descriptor is opened in text mode): still verified."""
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    journal.append("call", method="files.read", words="read notes.txt")
    journal.append(END_KIND, reason="technician_closed")
    journal.close()
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert verify_file(path).status == "verified"
    path.write_bytes(path.read_bytes().replace(b"}\r\n", b"} \r\n", 1))
    assert verify_file(path).status == "broken"
