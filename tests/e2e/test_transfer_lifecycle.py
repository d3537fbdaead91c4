"""Findings 5 and 6 of issue 14 across real processes: transfers end, and leave nothing behind.

A real relay and a real agent (``workbench-agent``) run as child processes on
loopback; the technician is this test process.  The agent is killed
(SIGKILL, as a crash) in the middle of a transfer, on an event (a number of
chunks answered), never after a sleep:

* a download and an upload whose agent is gone stop with ConnectionLost
  (code ``connection_lost``) once ``give_up_after`` passed without progress;
* the ``.part`` a killed agent left in the customer's folder is removed when
  the agent starts again with the same data folder, and the customer is told;
* an upload left open when the session ends cleanly leaves no ``.part``.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_files_registry_e2e import MIB, Background, random_file, session_with
from wire.errors import ConnectionLost
from workbench import Session
from workbench.calls import CallResult
from workbench.files import FilesNamespace
from workbench.lab import Proc, start_agent

pytestmark = pytest.mark.e2e


class KillAfter:
    """A Caller around a Session that kills *agent* once *n* answers to *method* arrived (then lets calls go on)."""

    def __init__(self, session: Session, agent: Proc, method: str, n: int) -> None:
        self.session = session
        self.agent = agent
        self.method = method
        self.n = n
        self.answered = 0
        self.killed = threading.Event()
        self._lock = threading.Lock()

    def call(self, method: str, params: dict[str, Any] | None = None, data: bytes | None = None,
             *, timeout: float | None = None) -> CallResult:
        return self.session.call(method, params, data, timeout=timeout)

    def submit(self, method: str, params: dict[str, Any] | None = None, data: bytes | None = None,
               *, timeout: float | None = None) -> Future[CallResult]:
        if self.killed.is_set() or method != self.method:
            return self.session.submit(method, params, data, timeout=timeout)
        future = self.session.call(method, params, data, timeout=timeout)  # one at a time until the kill
        with self._lock:
            self.answered += 1
            if self.answered >= self.n:
                self.agent.kill()
                self.killed.set()
        done: Future[CallResult] = Future()
        done.set_result(future)
        return done


def parts_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_a_download_stops_with_connection_lost_when_the_agent_is_gone(
        tmp_path: Path, relay: tuple[Proc, str, Path], procs: list[Proc]) -> None:
    _, url, _ = relay
    home = tmp_path / "home"
    home.mkdir()
    remote = random_file(home / "big.bin", 40 * MIB)
    local = tmp_path / "big.bin"
    with session_with(url, tmp_path / "agent", procs) as (s, agent):
        killer = KillAfter(s, agent, "files.download_chunk", 2)
        files = FilesNamespace(killer, chunk_size=MIB, in_flight=2, give_up_after=3, max_retries=1000,
                               retry_delay=lambda attempt: 0.2, in_kernel=lambda: False)
        download = Background(lambda: files.download(str(remote), local, progress=False))
        with pytest.raises(ConnectionLost) as caught:
            download.result(120)
        assert killer.killed.is_set()
        assert caught.value.code == "connection_lost"
        assert "no progress for 3 s" in caught.value.message
        assert not local.exists()
        assert 0 < local.with_name("big.bin.part").stat().st_size < 40 * MIB  # kept, to resume later


def test_an_upload_stops_and_its_part_is_removed_when_the_agent_starts_again(
        tmp_path: Path, relay: tuple[Proc, str, Path], procs: list[Proc]) -> None:
    _, url, _ = relay
    home = tmp_path / "home"
    home.mkdir()
    source = random_file(tmp_path / "up.bin", 40 * MIB)
    agent_data = tmp_path / "agent"
    with session_with(url, agent_data, procs) as (s, agent):
        killer = KillAfter(s, agent, "files.upload_chunk", 3)
        files = FilesNamespace(killer, chunk_size=MIB, in_flight=2, give_up_after=3, max_retries=1000,
                               retry_delay=lambda attempt: 0.2, in_kernel=lambda: False)
        upload = Background(lambda: files.upload(source, str(home / "up.bin"), progress=False))
        with pytest.raises(ConnectionLost) as caught:
            upload.result(120)
        assert killer.killed.is_set() and caught.value.code == "connection_lost"
    (left,) = parts_in(home)  # the killed agent could not clean up
    assert not (home / "up.bin").exists()

    again, _ = start_agent(url, agent_data)
    procs.append(again)
    # Cleaned at start, before the session code is shown (start_agent waited for that line).
    assert any(f"Removed {home}/{left}: an unfinished file" in line for line in again.lines)
    assert parts_in(home) == []


def test_an_upload_left_open_leaves_no_part_when_the_session_ends(
        tmp_path: Path, relay: tuple[Proc, str, Path], procs: list[Proc]) -> None:
    _, url, _ = relay
    home = tmp_path / "home"
    home.mkdir()
    with session_with(url, tmp_path / "agent", procs) as (s, agent):
        opened = s.call("files.upload_open", {"path": str(home / "half.bin"), "size": 512 * MIB}).value
        s.call("files.upload_chunk", {"id": opened["id"], "offset": 0}, b"z" * MIB)
        (part,) = parts_in(home)
        assert (home / part).stat().st_blocks * 512 < 64 * MIB  # nothing reserved ahead of the bytes
    assert agent.wait(30) == 0  # the technician closed the session: the agent ends cleanly
    assert parts_in(home) == []
    assert any("stopped with the session" in line for line in agent.lines)
