"""The recording file format (wire/recording.py) without processes: chain, torn tail, tampering, journal ties."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wire import recording
from wire.chain import GENESIS, ChainFollower, canonical, record_hash
from wire.errors import RecordingError
from wire.recording import SegmentBuilder, check_journal, file_header, read_file_header, scan

ROOT = Path(__file__).resolve().parents[2]


def journal(path: Path, count: int) -> list[dict[str, object]]:
    records, prev = [], GENESIS
    for seq in range(1, count + 1):
        record: dict[str, object] = {"seq": seq, "time": "t", "kind": "call", "prev": prev}
        record["hash"] = prev = record_hash(record)
        records.append(record)
    path.write_bytes(b"".join(canonical(r) + b"\n" for r in records))
    return records


def write(path: Path, segments: int, ties: list[dict[str, object]] | None = None,
          hash_name: str = "blake3") -> None:
    chain, builder = ChainFollower(), SegmentBuilder(hash_name=hash_name)
    with open(path, "wb") as f:
        f.write(file_header("s1", "2026-01-01T00:00:00+00:00", 0.0))
        for n in range(segments):
            body = {"seq": n + 1, "key": n == 0, "width": 2, "height": 2, "rects": []}
            builder.add(float(n), "screen.frame", body, bytes([n]) * 10)
            tie = ties[n] if ties else {"seq": 0, "head": GENESIS}
            f.write(builder.seal(chain, "t", tie))


def rewrite_header(whole: bytes, start: int, change: Callable[[dict[str, Any]], None]) -> bytes:
    """*whole* with the segment at *start* given a header that *change* edited (re-deflated, its length
    prefix updated, the payload left alone)."""
    size = int.from_bytes(whole[start + 2:start + 6], "big")
    header = json.loads(zlib.decompress(whole[start + 10:start + 10 + size]))
    change(header)
    raw = zlib.compress(canonical(header))
    return (whole[:start + 2] + len(raw).to_bytes(4, "big") + whole[start + 6:start + 10] + raw
            + whole[start + 10 + size:])


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


@pytest.mark.parametrize("hash_name", ["blake3", "sha256"])
def test_a_torn_tail_is_where_it_stops_and_tampering_is_named(tmp_path: Path, hash_name: str) -> None:
    path = tmp_path / "r.wbrec"
    write(path, 3, hash_name=hash_name)
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
    assert f"payload_{hash_name}" in segments[1].header
    assert bad.broken and bad.stopped_at == 2 and "first bad segment is 2" in bad.describe()

    # A header rewritten (an event's time moved) with its own hash left alone: the chain sees it.
    def move_first_event(header: dict[str, Any]) -> None:
        header["events"][0][0] = 99.0

    (tmp_path / "forged.wbrec").write_bytes(rewrite_header(whole, segments[0].end_offset, move_first_event))
    assert scan(tmp_path / "forged.wbrec").stopped_at == 2


def test_missing_and_foreign_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no recording at"):
        scan(tmp_path / "none.wbrec")
    (tmp_path / "x.wbrec").write_bytes(b"\x89PNG\r\n")
    with pytest.raises(RecordingError, match="not a session recording") as caught:
        scan(tmp_path / "x.wbrec")
    assert caught.value.code == "bad_recording"


def test_new_segments_are_hashed_with_blake3_and_the_committed_recording_still_verifies() -> None:
    assert recording.payload_hash_name() == "blake3"  # the test extra installs the blake3 package
    assert SegmentBuilder().hash_name == "blake3"
    # The training session committed in the repository (recorded before BLAKE3, with SHA-256
    # payload hashes; the parametrised test above covers both hashes whatever it holds).
    committed = next((ROOT / "notebooks" / "training" / "data" / "sessions").glob("*/recording/screen.wbrec"))
    found = scan(committed)
    assert found.segments and found.stopped is None


def test_without_the_blake3_package_new_segments_use_sha256_and_blake3_ones_give_a_clear_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "b3.wbrec", 2)
    monkeypatch.setattr(recording, "_blake3", lambda: None)
    assert SegmentBuilder().hash_name == "sha256"
    write(tmp_path / "sha.wbrec", 2, hash_name=recording.payload_hash_name())
    assert scan(tmp_path / "sha.wbrec").stopped is None
    with pytest.raises(RecordingError, match="install the blake3 package"):
        scan(tmp_path / "b3.wbrec")
    # Without the payloads' check the recording still opens (its index, for a replay).
    assert len(scan(tmp_path / "b3.wbrec", check_payload=False).segments) == 2


def test_a_segment_naming_no_payload_hash_does_not_verify(tmp_path: Path) -> None:
    path = tmp_path / "r.wbrec"
    write(path, 1)
    with open(path, "rb") as f:
        _header, first = read_file_header(f, path)

    # The payload's hash taken out, and the record's own hash made again: the chain alone holds.
    def drop_payload_hash(header: dict[str, Any]) -> None:
        del header["payload_blake3"], header["hash"]
        header["hash"] = record_hash(header)

    (tmp_path / "nohash.wbrec").write_bytes(rewrite_header(path.read_bytes(), first, drop_payload_hash))
    found = scan(tmp_path / "nohash.wbrec")
    assert found.broken and found.stopped_at == 1 and "names no payload hash" in found.describe()
