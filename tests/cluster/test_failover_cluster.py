"""Fail-over: a relay of the cluster dies (kill -9) mid-session, the session goes on through another.

The guarantees are those of a relay restart (tests/e2e/test_files_registry_e2e.py): no call lost,
none run twice, the agent's journal continuous, the relays' copy (in the shared ``--data``) ending
on the agent's head.  The agent is connected to relay A (``--relay A,B``), the technician to relay
C, so the technician's traffic crosses NATS both before and after A dies.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from tests import requires
from tests.cluster.conftest import Nats, StartRelay
from tests.e2e.test_files_registry_e2e import (
    MIB,
    Background,
    ChunkCounter,
    agent_journal,
    random_file,
    records,
    relay_copy_caught_up,
    sha256_file,
    wait_until,
)
from wire import protocol
from wire.chain import verify_file
from wire.frame_format import index_fields
from workbench import connect
from workbench.files import FilesNamespace
from workbench.lab import Proc, Xvfb, start_agent

SIZE = 48 * MIB  # 12 chunks of 4 MiB


def check_the_records(agent_data: Path, relay_data: Path) -> list[dict[str, object]]:
    """The agent's journal verifies, is continuous, ran nothing twice; the shared copy reached its head."""
    journal = agent_journal(agent_data)
    kept = records(journal)
    assert verify_file(journal).ok
    assert [r["seq"] for r in kept] == list(range(1, len(kept) + 1))
    calls = [r for r in kept if r["kind"] == "call"]
    assert not [k for k, n in Counter(r["request"] for r in calls).items() if n > 1]  # nothing ran twice
    wait_until(lambda: relay_copy_caught_up(agent_data, relay_data), timeout=30, what="the shared journal copy")
    return calls


def test_a_download_goes_on_through_another_relay_when_the_agents_relay_is_killed(
        cluster: tuple[Path, StartRelay], procs: list[Proc], tmp_path: Path) -> None:
    data, start = cluster
    (a, url_a), (b, url_b), (c, url_c) = start(), start(), start()
    home = tmp_path / "home"
    home.mkdir()
    remote = random_file(home / "big.bin", SIZE)
    local = tmp_path / "big.bin"
    agent_data = tmp_path / "agent"
    agent, code = start_agent(f"{url_a},{url_b}", agent_data)
    procs.append(agent)
    s = connect(code, relay=[url_c], name="Alice")
    agent.wait_for(r"technician connected: Alice")
    counter = ChunkCounter(s, 3)
    files = FilesNamespace(counter)
    download = Background(lambda: files.download(str(remote), local, progress=False))
    assert counter.arrived.wait(60), "no chunk arrived"
    a.kill()  # the relay holding the session and the agent's link dies mid-transfer
    answered_at_kill = counter.answered
    counter.release()
    agent.wait_for(r"reconnecting")
    agent.wait_for(r"status: Connected", timeout=60)
    transfer = download.result(180)
    assert counter.answered > answered_at_kill  # chunks crossed the relays left
    assert transfer.sha256 == sha256_file(remote) == sha256_file(local)
    assert s.ping() > 0
    took_over = [line for relay in (b, c) for line in relay.lines if f"took over session {s.session_id}" in line]
    assert len(took_over) == 1, took_over  # one relay holds the session now, and writes its records
    s.close()
    assert agent.wait(30) == 0
    calls = check_the_records(agent_data, data)
    offsets = sorted(r["params"]["offset"] for r in calls if r["method"] == "files.download_chunk")
    assert offsets == list(range(0, SIZE, 4 * MIB))  # each part asked for once, none lost


def test_a_nats_stopped_and_started_again_pauses_the_session_and_loses_nothing(
        cluster: tuple[Path, StartRelay], nats: Nats, procs: list[Proc], tmp_path: Path) -> None:
    data, start = cluster
    (_, url_a), (_, url_b) = start(), start()
    agent_data = tmp_path / "agent"
    agent, code = start_agent(url_a, agent_data)
    procs.append(agent)
    s = connect(code, relay=url_b, name="Alice")  # every call crosses NATS
    assert s.ping() > 0
    nats.stop()
    pending = [s.submit("session.ping", timeout=90) for _ in range(3)]  # made while NATS is away
    nats.start()
    assert [p.result(90).value for p in pending] == [{"pong": True}] * 3
    assert s.ping() > 0
    s.close()
    assert agent.wait(30) == 0
    calls = check_the_records(agent_data, data)
    assert len(calls) == 5


class Viewer:
    """A screen view (the widget's websocket, in a thread): admitted by a token, acks each frame.

    When its relay closes it, it comes back with a fresh token from *token* (the relay that takes a
    session over knows the session's records, not the tokens handed out before).
    """

    def __init__(self, url: str, session_id: str, token: Callable[[], str]) -> None:
        self.url, self.session_id, self.token = url, session_id, token
        self.frames = 0
        self.connections = 0
        self.error: BaseException | None = None
        self.seen = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                with contextlib.suppress(ConnectionClosed), ws_connect(self.url, max_size=None, compression=None,
                                                                      open_timeout=20) as ws:
                    self._view(ws)
        except BaseException as err:  # reported by wait_for_frames
            self.error = err

    def _view(self, ws: ClientConnection) -> None:
        ws.send(protocol.encode(protocol.Message("hello", {
            "role": "viewer", "session_id": self.session_id, "token": self.token()})))
        welcome = protocol.decode(ws.recv(timeout=30))
        assert welcome.type == "welcome", f"relay answered {welcome}"
        self.connections += 1
        ws.send(protocol.encode(protocol.event("screen.configure", {"copy": True})))
        while not self._stop.is_set():
            try:
                message = protocol.decode(ws.recv(timeout=0.2))
            except TimeoutError:
                continue
            if message.type == "event" and message["name"] == "screen.frame":
                seq = index_fields(message["body"], message.data or b"")["seq"]  # either frame format
                ws.send(protocol.encode(protocol.event("screen.ack", {"seq": seq})))
                with self.seen:
                    self.frames += 1
                    self.seen.notify_all()

    def wait_for_frames(self, count: int, timeout: float = 60) -> None:
        with self.seen:
            assert self.seen.wait_for(lambda: self.frames >= count or self.error is not None, timeout), \
                f"{self.frames} frames, not {count}"
        assert self.error is None, self.error

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def test_a_screen_stream_goes_on_through_another_relay_when_the_agents_relay_is_killed(
        cluster: tuple[Path, StartRelay], procs: list[Proc], tmp_path: Path) -> None:
    requires.tool("Xvfb", "xvfb")
    _, start = cluster
    (a, url_a), (_, url_b), (_, url_c) = start(), start(), start()
    screen = Xvfb(640, 400)
    try:
        agent, code = start_agent(f"{url_a},{url_b}", tmp_path / "agent", env=screen.env())
        procs.append(agent)
        s = connect(code, relay=url_c, name="Alice")

        def token() -> str:
            return str(s.call("relay.viewer_token").value["token"])

        viewer = Viewer(url_b, s.session_id, token)  # on B, proxied to A, which holds the session
        painter = Proc(["xterm", "-e", "top", "-d", "0.2"], env=screen.env(), name="xterm")  # the screen changes
        procs.append(painter)
        try:
            viewer.wait_for_frames(3)
            a.kill()
            before = viewer.frames
            agent.wait_for(r"reconnecting")
            agent.wait_for(r"status: Connected", timeout=60)
            viewer.wait_for_frames(before + 3, timeout=90)  # through the relay that took the session over
            assert viewer.connections == 2
        finally:
            viewer.stop()
        assert s.ping() > 0
        s.close()
        assert agent.wait(30) == 0
    finally:
        screen.stop()
