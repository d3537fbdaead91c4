"""The recording file format (wire/recording.py) without processes: chain, torn tail, tampering, journal ties."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest

from wire.chain import GENESIS, ChainFollower, canonical, record_hash
from wire.errors import RecordingError
from wire.recording import SegmentBuilder, check_journal, file_header, scan


def journal(path: Path, count: int) -> list[dict[str, object]]:
    records, prev = [], GENESIS
    for seq in range(1, count + 1):
        record: dict[str, object] = {"seq": seq, "time": "t", "kind": "call", "prev": prev}
        record["hash"] = prev = record_hash(record)
        records.append(record)
    path.write_bytes(b"".join(canonical(r) + b"\n" for r in records))
    return records


def write(path: Path, segments: int, ties: list[dict[str, object]] | None = None) -> None:
    chain, builder = ChainFollower(), SegmentBuilder()
    with open(path, "wb") as f:
        f.write(file_header("s1", "2026-01-01T00:00:00+00:00", 0.0))
        for n in range(segments):
            body = {"seq": n + 1, "key": n == 0, "width": 2, "height": 2, "rects": []}
            builder.add(float(n), "screen.frame", body, bytes([n]) * 10)
            tie = ties[n] if ties else {"seq": 0, "head": GENESIS}
            f.write(builder.seal(chain, "t", tie))


def test_segments_chain_and_tie_to_the_journal(tmp_path: Path) -> None:
    records = journal(tmp_path / "journal.jsonl", 3)
    ties = [{"seq": 0, "head": GENESIS}] + [{"seq": r["seq"], "head": r["hash"]} for r in records[:2]]
    write(tmp_path / "r.wbrec", 3, ties)
    found = scan(tmp_path / "r.wbrec")
    assert [s.seq for s in found.segments] == [1, 2, 3] and found.stopped is None
    assert found.segments[0].key and not found.segments[1].key
    assert check_journal(found, tmp_path / "journal.jsonl") is None
    assert "recording verifies: 3 segments" in found.describe()
    # The same recording against another journal: the ties do not hold.
    journal(tmp_path / "other.jsonl", 1)
    assert "segment 3" in str(check_journal(found, tmp_path / "other.jsonl"))


def test_a_torn_tail_is_where_it_stops_and_tampering_is_named(tmp_path: Path) -> None:
    path = tmp_path / "r.wbrec"
    write(path, 3)
    whole = path.read_bytes()
    segments = scan(path).segments
    (tmp_path / "torn.wbrec").write_bytes(whole[: segments[2].payload_offset + 4])
    torn = scan(tmp_path / "torn.wbrec")
    assert len(torn.segments) == 2 and torn.stopped_at == 3 and not torn.broken
    assert "incomplete" in torn.describe() and "up to segment 2" in torn.describe()

    payload = bytearray(whole)
    payload[segments[1].payload_offset] ^= 1
    (tmp_path / "pixels.wbrec").write_bytes(bytes(payload))
    bad = scan(tmp_path / "pixels.wbrec")
    assert bad.broken and bad.stopped_at == 2 and "first bad segment is 2" in bad.describe()

    # A header rewritten (an event's time moved) with its own hash left alone: the chain sees it.
    start = segments[0].end_offset
    size = int.from_bytes(whole[start + 2:start + 6], "big")
    header = json.loads(zlib.decompress(whole[start + 10:start + 10 + size]))
    header["events"][0][0] = 99.0
    raw = zlib.compress(canonical(header))
    forged = (whole[:start + 2] + len(raw).to_bytes(4, "big") + whole[start + 6:start + 10] + raw
              + whole[start + 10 + size:])
    (tmp_path / "forged.wbrec").write_bytes(forged)
    assert scan(tmp_path / "forged.wbrec").stopped_at == 2


def test_missing_and_foreign_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no recording at"):
        scan(tmp_path / "none.wbrec")
    (tmp_path / "x.wbrec").write_bytes(b"\x89PNG\r\n")
    with pytest.raises(RecordingError, match="not a session recording") as caught:
        scan(tmp_path / "x.wbrec")
    assert caught.value.code == "bad_recording"
