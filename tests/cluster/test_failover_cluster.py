"""Fail-over: a relay of the cluster dies (kill -9) mid-session, the session goes on through another.

The guarantees are those of a relay restart (tests/e2e/test_files_registry_e2e.py): no call lost,
none run twice, the agent's journal continuous, the relays' copy (in the shared ``--data``) ending
on the agent's head.  The agent is connected to relay A (``--relay A,B``), the technician to relay
C, so the technician's traffic crosses NATS both before and after A dies.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

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
from wire.chain import verify_file
from workbench import connect
from workbench.files import FilesNamespace
from workbench.lab import Proc, start_agent

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
