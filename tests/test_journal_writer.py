"""The journal's writer: preallocated tail, group commit off the event loop, recovery after kill -9."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agent import journal as journal_module
from agent.journal import Journal
from wire.chain import read_records, verify_file

WRITER = """
import sys
from pathlib import Path
from agent.journal import Journal
journal = Journal(Path(sys.argv[1]))
for i in range(int(sys.argv[2])):
    journal.append("call", request=f"r{i}", method="session.ping", words="ping")
print("written", flush=True)
sys.stdin.read()  # killed here, the journal still open
"""


def test_a_journal_killed_while_open_verifies_and_is_trimmed_on_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), "7"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "written"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(30)
    raw = path.read_bytes()
    assert raw.endswith(b"\0") and raw.rstrip(b"\0").endswith(b"\n")  # the preallocated tail was left behind
    result = verify_file(path)
    assert result.status == "incomplete" and result.records == 7 and not result.torn_tail, result.describe()
    assert [r["request"] for r in read_records(path)] == [f"r{i}" for i in range(7)]
    reopened = Journal(path)
    assert reopened.seq == 7 and b"\0" not in path.read_bytes()  # the tail was cut before going on
    reopened.append("session_end", reason="technician_closed")
    assert b"\0" in path.read_bytes()  # preallocated again while open...
    reopened.close()
    assert b"\0" not in path.read_bytes()  # ...and cut on close
    assert verify_file(path).status == "verified"


def test_a_record_torn_inside_the_tail_is_cut_on_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = Journal(path)
    journal.append("call", method="session.ping")
    journal.close()
    with open(path, "ab") as f:
        f.write(b'{"seq":2,"time":"2026-' + bytes(4096))  # killed mid-record, the rest still zeros
    result = verify_file(path)
    assert result.ok and result.records == 1 and result.torn_tail
    reopened = Journal(path)
    assert reopened.seq == 1
    reopened.append("note", words="after")
    reopened.close()
    assert verify_file(path).records == 2


def test_zeros_before_a_record_do_not_verify(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = Journal(path)
    journal.append("call", method="session.ping")
    journal.append("call", method="session.ping")
    journal.close()
    first, second = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(first + bytes(64) + second)  # zeros are only ever a tail
    assert verify_file(path).status == "broken"


def test_concurrent_appends_keep_their_order_and_are_on_disk_when_answered(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = Journal(path)

    async def one(i: int) -> int:
        record = await journal.append_async("call", request=f"r{i}")
        on_disk = {r["seq"] for r in read_records(path)}
        assert record["seq"] in on_disk  # answered only once it is on disk
        return int(record["seq"])

    async def many() -> list[int]:
        return await asyncio.gather(*(one(i) for i in range(64)))

    seqs = asyncio.run(many())
    assert seqs == list(range(1, 65))  # chained in the order they were asked for
    journal.append("note", words="a blocking append after them")
    assert [r["seq"] for r in journal.records] == list(range(1, 66)) and journal.seq == 65
    journal.close()
    assert verify_file(path).ok and verify_file(path).records == 65


def test_a_journal_grows_past_its_preallocation(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = Journal(path, preallocate=4096)
    for i in range(100):  # about 20 kB: several chunks
        journal.append("call", request=f"r{i}", words="x" * 100)
    assert len(read_records(path)) == 100
    journal.close()
    assert verify_file(path).records == 100 and b"\0" not in path.read_bytes()


def test_a_failed_write_fails_that_append_and_every_later_one(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = Journal(path)
    journal.append("call", method="session.ping")
    os.close(journal._fd)  # the disk goes away under the writer: a real EBADF from write
    with pytest.raises(OSError):
        journal.append("call", method="session.ping")
    with pytest.raises(OSError, match="could not be written"):
        journal.append("call", method="session.ping")
    assert journal.seq == 1 and len(journal.records) == 1  # nothing claimed that is not on disk
    journal._fd = os.open(os.devnull, os.O_RDONLY)  # so that close() has something to close
    journal._allocated = journal._end
    journal.close()


def test_appending_to_a_closed_journal_raises(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl")
    journal.close()
    journal.close()  # twice is fine
    with pytest.raises(OSError, match="closed"):
        journal.append("note", words="late")


def test_a_caller_that_gives_up_does_not_stop_the_journal(tmp_path: Path) -> None:
    """Found with the transfers' tests: a cancelled call task must not leave the writer a cancelled future."""
    journal = Journal(tmp_path / "j.jsonl")

    async def give_up() -> None:
        waiting = asyncio.ensure_future(journal.append_async("call", request="abandoned"))
        await asyncio.sleep(0)
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting

    for _ in range(5):
        asyncio.run(give_up())
    journal.append("note", words="still writing")  # would wait forever if the writer had died
    assert [r["kind"] for r in journal.records] == ["call"] * 5 + ["note"]
    journal.close()


@pytest.mark.skipif(sys.platform != "linux", reason="O_DSYNC is used on Linux only")
def test_on_linux_every_write_is_synchronous_data(tmp_path: Path) -> None:
    import fcntl

    journal = Journal(tmp_path / "j.jsonl")
    try:
        assert fcntl.fcntl(journal._fd, fcntl.F_GETFL) & os.O_DSYNC == os.O_DSYNC
    finally:
        journal.close()


def test_without_pwrite_records_are_written_at_their_place_all_the_same(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows has no os.pwrite: the writer seeks and writes there (the same path, run here)."""
    monkeypatch.delattr(os, "pwrite", raising=False)
    path = tmp_path / "j.jsonl"
    journal = Journal(path, preallocate=4096)
    for i in range(40):  # past the first preallocated chunk: the file grows while records are written
        journal.append("call", request=f"r{i}", words="x" * 100)
    journal.close()
    assert [r["request"] for r in read_records(path)] == [f"r{i}" for i in range(40)]
    assert verify_file(path).ok and b"\0" not in path.read_bytes()


def test_an_event_loop_writes_its_own_records_without_a_thread(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """On a fast disk the loop writes and syncs itself: no hop to a writer thread and back per record."""
    monkeypatch.setattr(journal_module, "LOOP_WRITE_BUDGET", float("inf"))  # every disk is fast enough
    path = tmp_path / "j.jsonl"
    journal = Journal(path)

    async def calls() -> list[int]:
        seqs = []
        for i in range(20):  # one after the other, like calls answered in turn
            record = await journal.append_async("call", request=f"r{i}")
            assert record["seq"] in {r["seq"] for r in read_records(path)}  # on disk when it returns
            seqs.append(int(record["seq"]))
        return seqs

    assert asyncio.run(calls()) == list(range(1, 21))
    assert journal._thread is None
    journal.close()
    assert verify_file(path).records == 20


def test_on_a_slow_disk_the_loop_hands_its_records_to_the_writer_thread(tmp_path: Path) -> None:
    """A loop that saw slow writes lately does not wait on the disk itself; close ends the thread."""
    path = tmp_path / "j.jsonl"
    journal = Journal(path)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    async def calls() -> list[int]:
        journal.recent_write = 1.0  # as if the last writes had taken a second each
        beat = asyncio.ensure_future(ticker())
        try:
            records = await asyncio.gather(*(journal.append_async("call", request=f"r{i}") for i in range(16)))
        finally:
            beat.cancel()
        return [int(r["seq"]) for r in records]

    assert asyncio.run(calls()) == list(range(1, 17))
    assert journal._thread is not None and ticks > 0  # the loop kept turning while the thread wrote
    assert journal.recent_write < 1.0  # the thread's fast writes bring the loop back to writing itself
    journal.close()
    assert not journal._thread.is_alive()
    assert verify_file(path).records == 16


def test_a_blocking_append_on_the_loop_takes_over_the_loops_planned_write(tmp_path: Path) -> None:
    """A service on the loop's thread may append blocking while the loop's own write waits for its turn."""
    path = tmp_path / "j.jsonl"
    journal = Journal(path)

    async def mixed() -> tuple[int, int]:
        planned = asyncio.ensure_future(journal.append_async("call", request="async"))
        await asyncio.sleep(0)  # staged, its write planned for the loop's next turn
        blocking = journal.append("note", words="blocking, on the loop's thread")  # would deadlock if it waited
        return int((await planned)["seq"]), int(blocking["seq"])

    assert asyncio.run(mixed()) == (1, 2)
    assert [r["kind"] for r in read_records(path)] == ["call", "note"]
    journal.close()
