"""agent.files.transfers: chunked downloads and uploads, in any order, resumable, with bounded memory."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest

from agent import files
from agent.files import fdio
from tests.files.harness import Agent, leftovers, sha

ROOT = Path(__file__).resolve().parents[2]


def test_download_chunks_and_sha(agent: Agent, home: Path) -> None:
    payload = os.urandom(3 * 1000 + 7)
    (home / "f.bin").write_bytes(payload)
    opened = agent("files.download_open", path=str(home / "f.bin"))
    assert opened["size"] == len(payload)
    got = b""
    sha_seen = None
    for offset in range(0, len(payload), 1000):
        value, data = agent.raw("files.download_chunk", id=opened["id"], offset=offset, length=1000)
        assert data is not None
        got += data
        sha_seen = value.get("sha256")
        assert value["eof"] == (offset + 1000 >= len(payload))
    assert got == payload and sha_seen == sha(payload)
    assert agent("files.download_close", id=opened["id"])["closed"] is True
    assert agent.error("files.download_chunk", id=opened["id"], offset=0).code == "not_found"


def test_download_out_of_order_still_gives_the_whole_sha(agent: Agent, home: Path) -> None:
    payload = os.urandom(5000)
    (home / "f.bin").write_bytes(payload)
    transfer = agent("files.download_open", path=str(home / "f.bin"))["id"]
    last, data = agent.raw("files.download_chunk", id=transfer, offset=4000, length=1000)
    assert last["eof"] and last["sha256"] == sha(payload)
    _, data = agent.raw("files.download_chunk", id=transfer, offset=0, length=4000)
    assert data == payload[:4000]


def test_download_of_empty_file(agent: Agent, home: Path) -> None:
    (home / "e").write_bytes(b"")
    transfer = agent("files.download_open", path=str(home / "e"))["id"]
    value, data = agent.raw("files.download_chunk", id=transfer, offset=0, length=100)
    assert data == b"" and value["eof"] and value["sha256"] == sha(b"")


def test_download_chunk_reads_only_its_range(agent: Agent, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = home / "big.bin"
    with open(big, "wb") as f:
        f.truncate(64 * 1024 * 1024)
    transfer = agent("files.download_open", path=str(big))["id"]
    read: list[int] = []
    real_pread = os.pread

    def counting_pread(fd: int, n: int, offset: int) -> bytes:
        data = real_pread(fd, n, offset)
        read.append(len(data))
        return data

    monkeypatch.setattr(fdio.os, "pread", counting_pread)
    _, data = agent.raw("files.download_chunk", id=transfer, offset=0, length=files.CHUNK_MAX)
    assert data is not None and len(data) == files.CHUNK_MAX
    assert sum(read) == files.CHUNK_MAX
    assert agent.error("files.download_chunk", id=transfer, offset=0, length=files.CHUNK_MAX + 1).code == "bad_params"


def test_download_of_a_file_that_shrinks(agent: Agent, home: Path) -> None:
    target = home / "f.bin"
    target.write_bytes(b"x" * 5000)
    transfer = agent("files.download_open", path=str(target))["id"]
    os.truncate(target, 100)
    assert agent.error("files.download_chunk", id=transfer, offset=0, length=1000).code == "conflict"


def test_chunk_words_cannot_lie(agent: Agent, home: Path) -> None:
    (home / "f").write_bytes(b"x")
    transfer = agent("files.download_open", path=str(home / "f"))["id"]
    agent("files.download_chunk", id=transfer, offset=0, path=str(home / "f"))
    call = [r for r in agent.journal.records if r["kind"] == "call" and r.get("method") == "files.download_chunk"][-1]
    assert call["words"].startswith(f"The technician copied part of the file {home / 'f'}")
    err = agent.error("files.download_chunk", id=transfer, offset=0, path="/some/innocent/file")
    assert err.code == "bad_params"


def test_a_transfer_is_one_line_for_the_customer_and_every_chunk_in_the_journal(agent: Agent, home: Path) -> None:
    (home / "big").write_bytes(os.urandom(5000))
    transfer = agent("files.download_open", path=str(home / "big"))["id"]
    for offset in range(0, 5000, 1000):
        agent("files.download_chunk", id=transfer, offset=offset, length=1000, path=str(home / "big"))
    agent("files.download_close", id=transfer)
    assert agent.said == [f"The technician started copying the file {home / 'big'} from your computer"]
    chunks = [r for r in agent.journal.records if r.get("method") == "files.download_chunk"]
    assert len(chunks) == 2 * 5  # a call and an outcome record for every chunk
    opened = agent("files.upload_open", path=str(home / "up"), size=3)["id"]
    agent("files.upload_chunk", b"abc", id=opened, offset=0)
    agent.error("files.upload_finish", id=opened, sha256="0" * 64)  # a quiet step that fails is told
    assert len(agent.said) == 3 and "did not happen" in agent.said[-1]


def test_upload_in_any_order_then_finish(agent: Agent, home: Path) -> None:
    payload = os.urandom(2500)
    target = home / "up.bin"
    opened = agent("files.upload_open", path=str(target), size=len(payload))
    transfer = opened["id"]
    assert agent("files.upload_chunk", payload[1000:2000], id=transfer, offset=1000)["received"] == 0
    assert agent("files.upload_chunk", payload[:1000], id=transfer, offset=0)["received"] == 2000
    assert agent("files.upload_status", id=transfer)["received"] == 2000
    assert agent.error("files.upload_finish", id=transfer, sha256=sha(payload)).code == "conflict"
    # A chunk sent twice (a retry) is harmless; a different one is refused.
    agent("files.upload_chunk", payload[:1000], id=transfer, offset=0)
    assert agent.error("files.upload_chunk", b"y" * 1000, id=transfer, offset=0).code == "conflict"
    agent("files.upload_chunk", payload[2000:], id=transfer, offset=2000)
    assert not target.exists()
    result = agent("files.upload_finish", id=transfer, sha256=sha(payload))
    assert target.read_bytes() == payload and result["sha256"] == sha(payload)
    assert agent.outcome()["sha256_after"] == sha(payload)
    assert leftovers(home) == []
    agent("files.undo")
    assert not target.exists()


def test_a_chunk_kept_ahead_of_the_hash_and_then_overwritten_is_hashed_as_the_file_holds_it(
        agent: Agent, home: Path) -> None:
    """A chunk that lands ahead of the running hash is kept in memory to be hashed later; a re-sent chunk
    over it (not yet checked: nothing before it has arrived) replaces it, and the hash follows the file."""
    first, second, other = os.urandom(1000), os.urandom(1000), os.urandom(1000)
    transfer = agent("files.upload_open", path=str(home / "up.bin"), size=2000)["id"]
    agent("files.upload_chunk", second, id=transfer, offset=1000)
    agent("files.upload_chunk", other, id=transfer, offset=1000)
    agent("files.upload_chunk", first, id=transfer, offset=0)
    assert agent.error("files.upload_finish", id=transfer, sha256=sha(first + second)).code == "conflict"
    transfer = agent("files.upload_open", path=str(home / "up.bin"), size=2000)["id"]
    agent("files.upload_chunk", second, id=transfer, offset=1000)
    agent("files.upload_chunk", other, id=transfer, offset=1000)
    agent("files.upload_chunk", first, id=transfer, offset=0)
    agent("files.upload_finish", id=transfer, sha256=sha(first + other))
    assert (home / "up.bin").read_bytes() == first + other


def test_upload_bad_hash_changes_nothing(agent: Agent, home: Path) -> None:
    target = home / "up.bin"
    target.write_bytes(b"before")
    transfer = agent("files.upload_open", path=str(target), size=3, overwrite=True)["id"]
    agent("files.upload_chunk", b"abc", id=transfer, offset=0)
    assert agent.error("files.upload_finish", id=transfer, sha256=sha(b"xyz")).code == "conflict"
    assert target.read_bytes() == b"before" and leftovers(home) == []
    assert agent.error("files.upload_status", id=transfer).code == "not_found"


def test_upload_refusals(agent: Agent, home: Path) -> None:
    (home / "exists").write_bytes(b"e")
    assert agent.error("files.upload_open", path=str(home / "exists"), size=1).code == "exists"
    assert agent.error("files.upload_open", path=str(home), size=1).code == "is_a_directory"
    assert agent.error("files.upload_open", path=str(home / "x"), size=-1).code == "bad_params"
    assert agent.error("files.upload_open", path=str(home / "x"), size=1 << 60).code == "bad_params"
    transfer = agent("files.upload_open", path=str(home / "x"), size=4)["id"]
    assert agent.error("files.upload_chunk", b"12345", id=transfer, offset=0).code == "bad_params"
    assert agent.error("files.upload_chunk", id=transfer, offset=0).code == "bad_params"
    assert agent("files.upload_abort", id=transfer)["aborted"] is True
    assert leftovers(home) == [] and not (home / "x").exists()


def test_upload_overwrite_is_undoable(agent: Agent, home: Path) -> None:
    target = home / "cfg"
    target.write_bytes(b"old")
    transfer = agent("files.upload_open", path=str(target), size=3, overwrite=True)["id"]
    agent("files.upload_chunk", b"new", id=transfer, offset=0)
    agent("files.upload_finish", id=transfer)
    assert target.read_bytes() == b"new"
    agent("files.undo")
    assert target.read_bytes() == b"old"


def test_chunk_memory_is_bounded(agent: Agent, home: Path) -> None:
    """Serving one chunk of a large file allocates about one chunk, not the file."""
    big = home / "big.bin"
    with open(big, "wb") as f:
        f.truncate(256 * 1024 * 1024)
    transfer = agent("files.download_open", path=str(big))["id"]
    tracemalloc.start()
    try:
        agent.raw("files.download_chunk", id=transfer, offset=128 * 1024 * 1024, length=1024 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024
