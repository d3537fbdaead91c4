"""Files (T3), the registry (T4) and forbidden folders (C3) across real processes.

A real relay and a real agent (``workbench-agent --forbid DIR``) run as child
processes on loopback; the technician is this test process, through
:func:`workbench.connect`.  The files are real files under ``tmp_path``, the
hive is a real hive file (made by the product's ``new_hive``, read back with
libhivex and regipy, two independent readers).  What is checked is what crosses
the processes: the errors and their codes on the technician's side, the words
on the customer's console, the customer's journal, the relay's copy of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from agent.registry.regf_edit import new_hive
from tests.registry_support import regipy_values
from wire.chain import read_records, verify_file
from wire.errors import BadParams, Conflict, IsADirectory, NotADirectory
from workbench import ConnectionLost, Forbidden, NotFound, Session, WorkbenchError, connect
from workbench.calls import CallResult
from workbench.files import FilesNamespace
from workbench.lab import Proc, free_port, start_agent, start_relay

pytestmark = pytest.mark.e2e

REFUSAL_LINE = r"The technician was stopped from opening a folder you protected"
MIB = 1024 * 1024


# ------------------------------------------------------------------ helpers


def records(path: Path) -> list[dict[str, Any]]:
    return read_records(path)


def agent_journal(data: Path) -> Path:
    (journal,) = sorted((data / "journals").glob("*.jsonl"))
    return journal


def relay_journal(relay_data: Path) -> Path:
    (session_dir,) = (relay_data / "sessions").iterdir()
    return session_dir / "journal.jsonl"


def sha256_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(MIB):
            hasher.update(block)
    return hasher.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def random_file(path: Path, size: int) -> Path:
    """*size* random bytes at *path*, written a few MiB at a time."""
    with open(path, "wb") as out:
        left = size
        while left:
            block = os.urandom(min(left, 8 * MIB))
            out.write(block)
            left -= len(block)
    return path


def wait_until(condition: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    """Poll *condition* (a state on disk written by another process) until it holds, or fail."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def relay_copy_caught_up(agent_data: Path, relay_data: Path) -> bool:
    """True once the relay's copy of the journal reaches the agent's head."""
    try:
        return verify_file(relay_journal(relay_data)).head == verify_file(agent_journal(agent_data)).head
    except (OSError, ValueError):
        return False


def error_code(call: Callable[[], object]) -> WorkbenchError:
    """Run *call*; it must raise a WorkbenchError, which is returned."""
    with pytest.raises(WorkbenchError) as caught:
        call()
    return caught.value


@contextmanager
def session_with(url: str, agent_data: Path, procs: list[Proc], *extra: str) -> Iterator[tuple[Session, Proc]]:
    """A started agent (its Proc kept for cleanup) and a technician paired with it."""
    agent, code = start_agent(url, agent_data, *extra)
    procs.append(agent)
    s = connect(code, relay=url, name="Alice")
    agent.wait_for(r"technician connected: Alice")
    try:
        yield s, agent
    finally:
        s.close()


def hivexsh(path: Path, *commands: str) -> str:
    """libhivex's shell (an independent implementation) run on *path*: its output."""
    done = subprocess.run(["hivexsh", str(path)], input="\n".join(commands) + "\n", capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


class ChunkCounter:
    """A Caller around a Session that sets :attr:`arrived` once *n* download chunks were answered.

    It lets a test act in the middle of a transfer on an event, not after a sleep: from then on
    it holds back further chunk requests until :meth:`release`, so the transfer is still in the
    middle whatever the scheduler does.  *timeout* (when given) bounds each call, as a
    short-lived link would.
    """

    def __init__(self, session: Session, n: int, timeout: float | None = None) -> None:
        self.session = session
        self.n = n
        self.timeout = timeout
        self.answered = 0
        self.arrived = threading.Event()
        self._released = threading.Event()
        self._lock = threading.Lock()

    def release(self) -> None:
        """Let the chunk requests held back since :attr:`arrived` go."""
        self._released.set()

    def call(self, method: str, params: dict[str, Any] | None = None, data: bytes | None = None,
             *, timeout: float | None = None) -> CallResult:
        return self.session.call(method, params, data, timeout=timeout or self.timeout)

    def submit(self, method: str, params: dict[str, Any] | None = None, data: bytes | None = None,
               *, timeout: float | None = None) -> Future[CallResult]:
        if method == "files.download_chunk" and self.arrived.is_set():
            assert self._released.wait(120), "the test never released the held chunk requests"
        future = self.session.submit(method, params, data, timeout=timeout or self.timeout)
        if method == "files.download_chunk":
            future.add_done_callback(self._count)
        return future

    def _count(self, future: Future[CallResult]) -> None:
        if future.cancelled() or future.exception() is not None:
            return
        with self._lock:
            self.answered += 1
            if self.answered >= self.n:
                self.arrived.set()


class Background:
    """Run *work* in a thread; :meth:`result` joins and returns its value or raises its error."""

    def __init__(self, work: Callable[[], Any]) -> None:
        self._work = work
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._work()
        except BaseException as err:
            self._error = err

    def result(self, timeout: float) -> Any:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the background work did not finish"
        if self._error is not None:
            raise self._error
        return self._value


# -------------------------------------------------------------------- files


def test_read_write_edit_undo_are_journaled_told_and_kept_by_the_relay(
        relay: tuple[Proc, str, Path], procs: list[Proc], tmp_path: Path) -> None:
    _, url, relay_data = relay
    home = tmp_path / "home"
    home.mkdir()
    notes = home / "notes.txt"
    original = "line one\nline two\n"
    notes.write_text(original, encoding="utf-8")
    agent_data = tmp_path / "agent"

    with session_with(url, agent_data, procs) as (s, agent):
        assert s.files.read(str(notes)) == original
        agent.wait_for(rf"\] The technician read the file {re.escape(str(notes))}$")  # told in plain words

        written = s.files.write(str(notes), "line one\nline 2\n")
        agent.wait_for(rf"\] The technician changed the file {re.escape(str(notes))}$")
        assert notes.read_text(encoding="utf-8") == "line one\nline 2\n"
        assert written.sha256_before == sha256_bytes(original.encode())
        assert written.sha256_after == sha256_file(notes)

        edited = s.files.edit(str(notes), "line 2", "line two, edited")
        agent.wait_for(rf"\] The technician edited the file {re.escape(str(notes))}$")
        after_edit = "line one\nline two, edited\n"
        assert notes.read_text(encoding="utf-8") == after_edit
        assert "-line 2" in edited.diff and "+line two, edited" in edited.diff
        assert s.files.read(str(notes)) == after_edit  # the technician sees what is on disk

        undone = s.files.undo()
        agent.wait_for(r"\] The technician undid their last change to your files$")
        assert notes.read_text(encoding="utf-8") == "line one\nline 2\n"  # back to before the edit
        assert "edited" in undone.path
        assert [call.method for call in s.history] == ["files.read", "files.write", "files.edit", "files.read",
                                                       "files.undo"]
        assert all(call.outcome == "ok" for call in s.history)
    assert agent.wait(30) == 0

    journal = agent_journal(agent_data)
    verified = verify_file(journal)
    assert verified.ok, verified
    kept = records(journal)
    calls = {r["request"]: r for r in kept if r["kind"] == "call"}
    outcomes = {r["request"]: r for r in kept if r["kind"] == "outcome"}
    assert set(calls) == set(outcomes)  # every call has its outcome
    assert [calls[k]["method"] for k in calls] == ["files.read", "files.write", "files.edit", "files.read",
                                                   "files.undo"]
    by_method = {calls[k]["method"]: outcomes[k] for k in calls}
    write, edit = by_method["files.write"], by_method["files.edit"]
    assert write["outcome"] == "ok" and write["sha256_before"] == sha256_bytes(original.encode())
    assert write["sha256_after"] == sha256_bytes(b"line one\nline 2\n")
    assert edit["sha256_before"] == write["sha256_after"]
    assert edit["sha256_after"] == sha256_bytes(after_edit.encode())
    assert by_method["files.undo"]["outcome"] == "ok" and by_method["files.undo"]["undone"] == "files.edit"
    for request, call in calls.items():  # the call is on disk before its outcome
        assert call["seq"] < outcomes[request]["seq"]
        assert str(notes) in json.dumps(call["params"]) or call["method"] == "files.undo"

    wait_until(lambda: relay_copy_caught_up(agent_data, relay_data), what="the relay's copy of the journal")
    copy = verify_file(relay_journal(relay_data))
    assert copy.ok and copy.head == verified.head and copy.records == verified.records


def test_forbidden_folders_hold_through_the_relay_whatever_the_spelling(
        relay: tuple[Proc, str, Path], procs: list[Proc], tmp_path: Path) -> None:
    _, url, _ = relay
    home = tmp_path / "home"
    docs = home / "docs"
    secret = docs / "secret"
    (secret / "deeper").mkdir(parents=True)
    (secret / "diary.txt").write_text("private words", encoding="utf-8")
    (secret / "deeper" / "more.txt").write_text("more private words", encoding="utf-8")
    os.link(secret / "diary.txt", home / "hardlink.txt")  # a second name outside, made before the agent starts
    (home / "sub").mkdir()
    (home / "plain.txt").write_text("anyone may read this", encoding="utf-8")
    agent_data = tmp_path / "agent"
    hive = secret / "SYSTEM"
    hive.write_bytes(new_hive("ROOT", "SYSTEM"))
    protected_before = {p: p.read_bytes() for p in secret.rglob("*") if p.is_file()}

    with session_with(url, agent_data, procs, "--forbid", str(secret)) as (s, agent):
        # links made after the agent started: the rule is by identity, not by name
        os.symlink(secret, home / "dirlink")
        os.symlink(secret / "diary.txt", home / "filelink.txt")
        os.symlink("../docs/secret/deeper", home / "sub" / "rellink")
        spelled: list[tuple[str, Callable[[], object]]] = [
            ("list the folder", lambda: s.files.list(str(secret))),
            ("list a folder below", lambda: s.files.list(str(secret / "deeper"))),
            ("read a file inside", lambda: s.files.read(str(secret / "diary.txt"))),
            ("stat a file inside", lambda: s.files.stat(str(secret / "diary.txt"))),
            ("read through a folder link", lambda: s.files.read(f"{home}/dirlink/diary.txt")),
            ("list through a folder link", lambda: s.files.list(f"{home}/dirlink")),
            ("read through a file link", lambda: s.files.read(f"{home}/filelink.txt")),
            ("list through a relative link", lambda: s.files.list(f"{home}/sub/rellink")),
            ("read a hard link outside", lambda: s.files.read(f"{home}/hardlink.txt")),
            ("'..' spelling", lambda: s.files.read(f"{home}/sub/../docs/secret/diary.txt")),
            ("'..' through a link", lambda: s.files.read(f"{home}/sub/rellink/../diary.txt")),
            ("'.' and doubled separators", lambda: s.files.read(f"{home}//docs/./secret//diary.txt")),
            ("Windows separators", lambda: s.files.read(f"{home}\\docs\\secret\\diary.txt")),
            ("move a file into it", lambda: s.files.move(str(home / "plain.txt"), f"{secret}/")),
            ("move a file into it through a link", lambda: s.files.move(str(home / "plain.txt"),
                                                                         f"{home}/dirlink/plain.txt")),
            ("move a file out of it", lambda: s.files.move(str(secret / "diary.txt"), str(home / "out.txt"))),
            ("move the folder that holds it", lambda: s.files.move(str(docs), str(home / "docs2"))),
            ("delete the folder that holds it", lambda: s.files.delete(str(docs))),
            ("copy from it", lambda: s.files.copy(str(secret / "diary.txt"), str(home / "copy.txt"))),
            ("copy the folder that holds it", lambda: s.files.copy(str(docs), str(home / "docs-copy"))),
            ("write inside it", lambda: s.files.write(str(secret / "new.txt"), "planted")),
            ("download from it", lambda: s.files.download(str(secret / "diary.txt"), tmp_path / "stolen.txt",
                                                          progress=False)),
            ("upload into it", lambda: s.files.upload(home / "plain.txt", f"{home}/dirlink/up.txt",
                                                      progress=False)),
            ("open a hive file inside it", lambda: s.registry.open_hive(str(hive))),
        ]
        refused: dict[str, str] = {}
        for what, attempt in spelled:
            err = error_code(attempt)
            assert isinstance(err, Forbidden) and err.code == "forbidden", f"{what}: {err!r}"
            refused[what] = str(err)
            agent.wait_for(r"\] The technician was stopped from \w+ .* you protected$")  # told, each time
            assert s.ping() > 0, what  # and the session goes on
        # a refusal names the path as the technician spelled it, never where a link led
        for through_link in ("read through a folder link", "read through a file link"):
            assert "secret" not in refused[through_link] and "link" in refused[through_link], refused[through_link]
        refusals = list(refused.values())

        # the parent lists the protected folder by name only, marked, with nothing about it
        listing = s.files.list(str(docs))
        (entry,) = [e for e in listing if e.name == "secret"]
        assert entry.protected and entry.size is None and entry.modified is None

        # the rule follows the folder when the customer renames it
        moved = docs / "renamed"
        secret.rename(moved)
        renamed = error_code(lambda: s.files.read(str(moved / "diary.txt")))
        assert renamed.code == "forbidden"
        agent.wait_for(REFUSAL_LINE)
        refusals.append(str(renamed))

        # the agent's own folder (journal, backups) is protected too
        own = error_code(lambda: s.files.read(str(agent_journal(agent_data))))
        assert own.code == "forbidden"
        tamper = error_code(lambda: s.files.write(str(agent_data / "state" / "files" / "x"), "tampered"))
        assert tamper.code == "forbidden"
        refusals += [str(own), str(tamper)]
        assert s.ping() > 0

    assert agent.wait(30) == 0
    # nothing moved, nothing planted, nothing copied out
    assert (home / "plain.txt").read_text(encoding="utf-8") == "anyone may read this"
    for gone in ("out.txt", "copy.txt", "docs2", "docs-copy"):
        assert not (home / gone).exists(), gone
    assert not (tmp_path / "stolen.txt").exists() and not (tmp_path / "stolen.txt.part").exists()
    after = {p.relative_to(moved): p.read_bytes() for p in moved.rglob("*") if p.is_file()}
    assert after == {p.relative_to(secret): data for p, data in protected_before.items()}
    assert not [p for p in moved.rglob("*") if p.name.startswith(".")]  # no temporary file left inside

    kept = records(agent_journal(agent_data))
    journaled = [r for r in kept if r["kind"] == "outcome" and r.get("code") == "forbidden"]
    assert len(journaled) == len(refusals)  # every refusal is journaled, with its code
    assert sorted(r["message"] for r in journaled) == sorted(refusals)
    assert verify_file(agent_journal(agent_data)).ok


def test_multi_mib_download_and_upload_keep_their_sha256(
        relay: tuple[Proc, str, Path], procs: list[Proc], tmp_path: Path) -> None:
    _, url, _ = relay
    home = tmp_path / "home"
    home.mkdir()
    remote = random_file(home / "big.bin", 40 * MIB + 12345)  # not a whole number of chunks
    mine = random_file(tmp_path / "mine.bin", 40 * MIB + 777)
    agent_data = tmp_path / "agent"

    with session_with(url, agent_data, procs) as (s, agent):
        got = s.files.download(str(remote), tmp_path / "got.bin", progress=False)
        assert got.size == remote.stat().st_size == (tmp_path / "got.bin").stat().st_size
        assert got.sha256 == sha256_file(remote) == sha256_file(tmp_path / "got.bin")
        assert not (tmp_path / "got.bin.part").exists()
        agent.wait_for(rf"The technician started copying the file {re.escape(str(remote))} from your computer")

        sent = s.files.upload(mine, str(home / "sent.bin"), progress=False)
        assert sent.sha256 == sha256_file(mine) == sha256_file(home / "sent.bin")
        # One line for the customer, when it began; the end is in their journal.
        agent.wait_for(r"The technician started sending a file to your computer, to be saved as")
        assert any(r.get("words") == "The technician finished sending a file; it was checked and saved"
                   for r in records(agent_journal(agent_data)))
        assert not [p for p in home.iterdir() if p.name.startswith(".")]  # no temporary file left

        # an upload that replaces a file keeps the old one for undo
        replaced = s.files.upload(mine, str(remote), progress=False, overwrite=True)
        assert sha256_file(remote) == replaced.sha256
        s.files.undo()
        assert sha256_file(remote) == got.sha256

    assert agent.wait(30) == 0
    kept = records(agent_journal(agent_data))
    finished = [r for r in kept if r["kind"] == "outcome" and r["method"] == "files.download_chunk" and "sha256" in r]
    assert [r["sha256"] for r in finished] == [got.sha256]  # the agent journaled the hash it sent
    uploads = [r for r in kept if r["kind"] == "outcome" and r["method"] == "files.upload_finish"]
    assert [r["outcome"] for r in uploads] == ["ok", "ok"]
    assert uploads[1]["sha256_before"] == got.sha256 and uploads[1]["sha256_after"] == sent.sha256


def test_a_download_goes_on_through_a_relay_restart(tmp_path: Path, procs: list[Proc]) -> None:
    port = free_port()
    relay_data = tmp_path / "relay"
    relay, url = start_relay(relay_data, port)
    procs.append(relay)
    home = tmp_path / "home"
    home.mkdir()
    remote = random_file(home / "huge.bin", 200 * MIB)
    expected = sha256_file(remote)
    agent_data = tmp_path / "agent"
    local = tmp_path / "huge.bin"

    with session_with(url, agent_data, procs) as (s, agent):
        counter = ChunkCounter(s, 5)
        files = FilesNamespace(counter)
        download = Background(lambda: files.download(str(remote), local, progress=False))
        assert counter.arrived.wait(60), "no chunk arrived"
        relay.kill()  # mid-transfer: the relay's process dies
        answered_at_kill = counter.answered
        counter.release()
        agent.wait_for(r"reconnecting")
        relay, _ = start_relay(relay_data, port)  # same port, same --data
        procs.append(relay)
        agent.wait_for(r"status: Connected")  # "Connected. This session is recorded." when the relay records
        transfer = download.result(180)
        assert counter.answered > answered_at_kill  # chunks crossed the new relay
        assert answered_at_kill < 50  # the relay died with most of the file still to come (chunks held back)
        assert transfer.sha256 == expected == sha256_file(local)
        assert not local.with_name("huge.bin.part").exists()
        assert s.ping() > 0

    assert agent.wait(30) == 0
    kept = records(agent_journal(agent_data))
    assert verify_file(agent_journal(agent_data)).ok
    assert [r["seq"] for r in kept] == list(range(1, len(kept) + 1))
    calls = [r for r in kept if r["kind"] == "call"]
    assert not [k for k, n in Counter(r["request"] for r in calls).items() if n > 1]  # nothing ran twice
    chunk_offsets = sorted(r["params"]["offset"] for r in calls if r["method"] == "files.download_chunk")
    assert chunk_offsets == list(range(0, 200 * MIB, 4 * MIB))  # each part asked for once, none lost
    wait_until(lambda: relay_copy_caught_up(agent_data, relay_data), what="the restarted relay's journal copy")


def test_a_download_cut_short_resumes_from_its_part_file(tmp_path: Path, procs: list[Proc]) -> None:
    port = free_port()
    relay_data = tmp_path / "relay"
    relay, url = start_relay(relay_data, port)
    procs.append(relay)
    home = tmp_path / "home"
    home.mkdir()
    remote = random_file(home / "cut.bin", 60 * MIB)
    agent_data = tmp_path / "agent"
    local = tmp_path / "cut.bin"

    with session_with(url, agent_data, procs) as (s, agent):
        # no retries and short calls: the first attempt gives up while the relay is away
        counter = ChunkCounter(s, 3, timeout=3)
        impatient = FilesNamespace(counter, max_retries=0, in_flight=2)
        first = Background(lambda: impatient.download(str(remote), local, progress=False))
        assert counter.arrived.wait(60)
        relay.kill()
        counter.release()  # the chunks held back meet a relay that is gone
        with pytest.raises(ConnectionLost):
            first.result(60)
        part = local.with_name("cut.bin.part")
        kept_bytes = part.stat().st_size
        assert 0 < kept_bytes < 60 * MIB and not local.exists()
        relay, _ = start_relay(relay_data, port)
        procs.append(relay)
        agent.wait_for(r"status: Connected")  # "Connected. This session is recorded." when the relay records

        transfer = s.files.download(str(remote), local, progress=False)  # the next call picks the .part up
        assert transfer.sha256 == sha256_file(remote) == sha256_file(local)
        assert not part.exists()

    assert agent.wait(30) == 0
    kept = records(agent_journal(agent_data))
    opens = [i for i, r in enumerate(kept) if r["kind"] == "call" and r["method"] == "files.download_open"]
    second = [r["params"]["offset"] for r in kept[opens[-1]:]
              if r["kind"] == "call" and r["method"] == "files.download_chunk"]
    assert min(second) == kept_bytes > 0  # it went on from the end of the .part, not from the start


# ----------------------------------------------------------------- registry


@pytest.mark.needs("hivexsh", "libhivex-bin")
def test_a_real_hive_file_is_edited_through_the_relay(
        relay: tuple[Proc, str, Path], procs: list[Proc], tmp_path: Path) -> None:
    _, url, _ = relay
    rescue = tmp_path / "rescue"
    rescue.mkdir()
    hive = rescue / "SOFTWARE"
    hive.write_bytes(new_hive("ROOT", "SOFTWARE"))
    pristine = sha256_file(hive)
    agent_data = tmp_path / "agent"
    typed: list[tuple[str, Any, str | None, str]] = [
        ("Greeting", "bonjour à tous", None, "REG_SZ"),
        ("Count", 0x2A, None, "REG_DWORD"),
        ("Paths", ["C:\\one", "D:\\deux"], None, "REG_MULTI_SZ"),
        ("Blob", b"\x00\x01\xfe\xff", None, "REG_BINARY"),
        ("Big", 2**40 + 5, None, "REG_QWORD"),
        ("Small64", 7, "REG_QWORD", "REG_QWORD"),
        ("Where", "%SystemRoot%\\x", "REG_EXPAND_SZ", "REG_EXPAND_SZ"),
    ]

    with session_with(url, agent_data, procs) as (s, agent):
        with s.registry.open_hive(str(hive)) as opened:
            assert opened.info["writable"] and opened.info["root"] == "ROOT"
            agent.wait_for(rf"The technician opened the registry file {re.escape(str(hive))}")
            for name, data, type_, wire_type in typed:
                change = opened.set("Vendor\\App", name, data, type=type_)
                assert change.before is None and change.after is not None and change.after.type == wire_type
            agent.wait_for(r"changed the value “Count” in the registry file .* to 42 \(REG_DWORD\); a backup was kept")
            values = opened.values("Vendor\\App")
            assert [(v.name, v.type, v.data) for v in values] == [(n, t, d) for n, d, _, t in typed]
            assert opened.get("vendor\\app", "count").data == 42  # names compare without case
            assert opened.keys("Vendor") == ["App"]

            exported = opened.export("Vendor")
            assert "[HKEY_LOCAL_MACHINE\\OFFLINE\\Vendor\\App]" in exported
            assert '"Count"=dword:0000002a' in exported and '"Blob"=hex:00,01,fe,ff' in exported
            assert '"Greeting"="bonjour à tous"' in exported
            assert '"Small64"=hex(b):07,00,00,00,00,00,00,00' in exported
            saved = exported.save(tmp_path / "export.reg")
            assert saved.read_bytes().startswith(b"\xff\xfe")

            # the file on disk, read by two independent implementations
            assert sha256_file(hive) != pristine
            found = regipy_values(hive, "\\Vendor\\App")
            assert found["Greeting"] == "bonjour à tous" and found["Count"] == 42
            assert found["Paths"] == ["C:\\one", "D:\\deux"] and found["Big"] == 2**40 + 5
            listing = hivexsh(hive, "cd Vendor\\App", "lsval")
            assert '"Count"=dword:0000002a' in listing and '"Blob"=hex(3):00,01,fe,ff' in listing
            assert '"Small64"=hex(11):07,00,00,00,00,00,00,00' in listing  # hivexsh writes the type in decimal
            with_all = sha256_file(hive)

            undone = s.registry.undo()  # the last change: "Where"
            assert "Where" in undone["undone"] and undone["hive_path"] == str(hive)
            agent.wait_for(r"Undone: the technician's last registry change was reversed")
            assert sha256_file(hive) != with_all
            assert "Where" not in regipy_values(hive, "\\Vendor\\App")
            assert '"Where"' not in hivexsh(hive, "cd Vendor\\App", "lsval")
            assert [v.name for v in opened.values("Vendor\\App")] == [n for n, *_ in typed[:-1]]

            opened.set("Vendor\\App", "Count", 43)  # a change to an existing value, then its undo
            assert regipy_values(hive, "\\Vendor\\App")["Count"] == 43
            s.registry.undo()
            assert regipy_values(hive, "\\Vendor\\App")["Count"] == 42
        assert s.registry.hives() == []  # closed on the agent when the with block ended

    assert agent.wait(30) == 0
    kept = records(agent_journal(agent_data))
    sets = [r for r in kept if r["kind"] == "outcome" and r["method"] == "registry.set"]
    assert len(sets) == len(typed) + 1 and all(r["outcome"] == "ok" for r in sets)
    assert sets[1]["after"] == {"name": "Count", "type": "REG_DWORD", "data": 42} and sets[1]["before"] is None
    assert sets[-1]["before"]["data"] == 42 and sets[-1]["after"]["data"] == 43
    assert verify_file(agent_journal(agent_data)).ok


# ---------------------------------------------------------------- bad input


def test_bad_input_gets_coded_errors_changes_nothing_and_the_session_goes_on(
        relay: tuple[Proc, str, Path], procs: list[Proc], tmp_path: Path) -> None:
    _, url, _ = relay
    home = tmp_path / "home"
    (home / "folder").mkdir(parents=True)
    notes = home / "notes.txt"
    notes.write_text("alpha beta beta\n", encoding="utf-8")
    latin = home / "latin1.txt"
    latin.write_bytes("café".encode("latin-1"))
    hive = home / "SOFTWARE"
    hive.write_bytes(new_hive("ROOT", "SOFTWARE"))
    agent_data = tmp_path / "agent"

    with session_with(url, agent_data, procs) as (s, agent):
        opened = s.registry.open_hive(str(hive))
        opened.set("Vendor", "Count", 1)
        hive_before, notes_before = sha256_file(hive), sha256_file(notes)
        listing_before = sorted(p.name for p in home.iterdir())
        cases: list[tuple[str, Callable[[], object], type[WorkbenchError], str]] = [
            ("missing file", lambda: s.files.read(str(home / "nope.txt")), NotFound, "not_found"),
            ("missing folder", lambda: s.files.list(str(home / "nope")), NotFound, "not_found"),
            ("NUL in a path", lambda: s.files.read(f"{home}/notes.txt\0.png"), BadParams, "bad_params"),
            ("NUL in a write", lambda: s.files.write(f"{home}/x\0y", "data"), BadParams, "bad_params"),
            ("a folder read as a file", lambda: s.files.read(str(home / "folder")), IsADirectory,
             "is_a_directory"),
            ("a folder written as a file", lambda: s.files.write(str(home / "folder"), "x"), IsADirectory,
             "is_a_directory"),
            ("a folder downloaded", lambda: s.files.download(str(home / "folder"), tmp_path / "f", progress=False),
             IsADirectory, "is_a_directory"),
            ("a file listed as a folder", lambda: s.files.list(str(notes)), NotADirectory, "not_a_directory"),
            ("a file used as a folder", lambda: s.files.write(f"{notes}/child.txt", "x"), NotADirectory,
             "not_a_directory"),
            ("text that does not decode", lambda: s.files.read(str(latin)), BadParams, "bad_params"),
            ("an edit whose text is absent", lambda: s.files.edit(str(notes), "gamma", "delta"), Conflict,
             "conflict"),
            ("an edit whose text is ambiguous", lambda: s.files.edit(str(notes), "beta", "delta"), Conflict,
             "conflict"),
            ("a string for a DWORD", lambda: opened.set("Vendor", "Count", "many", type="REG_DWORD"), BadParams,
             "bad_params"),
            ("a DWORD too large", lambda: opened.set("Vendor", "Count", 2**33, type="REG_DWORD"), BadParams,
             "bad_params"),
            ("numbers in a REG_MULTI_SZ", lambda: opened.set("Vendor", "List", [1, 2], type="REG_MULTI_SZ"),
             BadParams, "bad_params"),
            ("bytes for a REG_SZ", lambda: opened.set("Vendor", "Text", b"\x00", type="REG_SZ"), BadParams,
             "bad_params"),
            ("no such type", lambda: opened.set("Vendor", "Odd", 1, type="REG_NONSENSE"), BadParams, "bad_params"),
            ("a missing key", lambda: opened.values("Vendor\\Nope"), NotFound, "not_found"),
            ("a missing value", lambda: opened.get("Vendor", "Nope"), NotFound, "not_found"),
            ("a hive that is not one", lambda: s.registry.open_hive(str(notes)), BadParams, "bad_params"),
        ]
        for what, attempt, kind, code in cases:
            err = error_code(attempt)
            assert isinstance(err, kind) and err.code == code, f"{what}: {err!r}"
            assert err.message, what
            assert s.ping() > 0, what  # the session goes on after each one
        # nothing was changed by the failed calls
        assert sha256_file(hive) == hive_before and sha256_file(notes) == notes_before
        assert sorted(p.name for p in home.iterdir()) == listing_before
        assert not (tmp_path / "f").exists() and not (tmp_path / "f.part").exists()
        assert opened.get("Vendor", "Count").data == 1
        assert s.files.read(str(notes)) == "alpha beta beta\n"
        opened.close()
        assert agent.popen.poll() is None

    assert agent.wait(30) == 0
    kept = records(agent_journal(agent_data))
    failed = [r["code"] for r in kept if r["kind"] == "outcome" and r["outcome"] == "error"]
    assert failed == [code for *_, code in cases]  # each one journaled with its code, in order
