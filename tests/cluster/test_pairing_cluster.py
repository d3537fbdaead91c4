"""Pairing across relays of one cluster: NATS at start, codes unique, a technician on another relay, burns.

Real processes: ``nats-server`` with JetStream (conftest), three ``workbench relay --nats`` on one
shared ``--data``, headless agents (no screen: pairing is the point here).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from relay.pairing import normalise_code
from tests.cluster.conftest import Nats, StartRelay
from workbench import CodeBurned, CodeInUse, connect
from workbench.lab import Proc, free_port, python_env, start_agent


def test_a_nats_that_cannot_be_reached_at_start_is_one_clear_line_and_status_2(tmp_path: Path) -> None:
    url = f"nats://127.0.0.1:{free_port()}"  # nothing listens there
    done = subprocess.run([sys.executable, "-m", "workbench.cli", "relay", "--port", "0", "--data",
                           str(tmp_path / "data"), "--nats", url], capture_output=True, text=True, timeout=60,
                          env=python_env(), check=False)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"cannot reach NATS at {url}" in lines[0]


def test_a_nats_without_jetstream_is_refused_with_how_to_start_it(tmp_path: Path, nats: Nats) -> None:
    port = free_port()
    plain = Proc([nats.program, "-a", "127.0.0.1", "-p", str(port)], name="nats-plain")
    try:
        plain.wait_for(r"Server is ready")
        done = subprocess.run([sys.executable, "-m", "workbench.cli", "relay", "--port", "0", "--data",
                               str(tmp_path / "data"), "--nats", f"nats://127.0.0.1:{port}"], capture_output=True,
                              text=True, timeout=60, env=python_env(), check=False)
    finally:
        plain.stop()
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"workbench relay: NATS at nats://127.0.0.1:{port} has no JetStream: start nats-server with -js -sd DIR"]


def test_codes_are_unique_across_relays_and_a_technician_pairs_on_another_relay(
        cluster: tuple[Path, StartRelay], procs: list[Proc], tmp_path: Path) -> None:
    data, start = cluster
    urls = [start()[1] for _ in range(3)]
    codes = []
    agents = []
    for n in range(6):  # two agents on each relay
        agent, code = start_agent(urls[n % 3], tmp_path / f"agent{n}")
        procs.append(agent)
        agents.append(agent)
        codes.append(normalise_code(code))
    assert len(set(codes)) == 6
    # The agent of relay A, its technician on relay B: the session runs on A, the technician is forwarded.
    s = connect(codes[0], relay=urls[1], name="Alice")
    agents[0].wait_for(r"technician connected: Alice")
    assert s.files.stat(str(tmp_path)).kind == "folder"
    status = s.call("relay.status").value
    assert status["agent_connected"] is True and status["session_id"] == s.session_id
    # Used once across the cluster: the same code typed on relay C is a code in use.
    with pytest.raises(CodeInUse):
        connect(codes[0], relay=urls[2], name="Bob")
    s.close()
    assert agents[0].wait(30) == 0
    (session_dir,) = (data / "sessions").iterdir()  # one session, its records written once, in the shared store
    assert session_dir.name == s.session_id and (session_dir / "journal.jsonl").stat().st_size > 0


def one_typo(code: str, position: int) -> str:
    """*code* with its digit at *position* changed: a try against *code*."""
    digit = str((int(code[position]) + 1) % 10)
    return code[:position] + digit + code[position + 1:]


def test_five_wrong_tries_burn_a_code_whichever_relays_they_land_on(
        cluster: tuple[Path, StartRelay], procs: list[Proc], tmp_path: Path) -> None:
    _, start = cluster
    urls = [start()[1] for _ in range(3)]
    agent, shown = start_agent(urls[0], tmp_path / "agent")
    procs.append(agent)
    code = normalise_code(shown)
    for attempt in range(5):  # on B, C, A, B, C
        relay = urls[(attempt + 1) % 3]
        with pytest.raises(Exception) as wrong:
            connect(one_typo(code, attempt), relay=relay, name="Mallory")
        assert getattr(wrong.value, "code", None) == "bad_code"
    fresh = normalise_code(agent.wait_for(r"session code: (\d{3} \d{3} \d{3})").group(1))
    assert fresh != code  # the customer's window shows a new code
    with pytest.raises(CodeBurned):
        connect(code, relay=urls[2], name="Alice")
    s = connect(fresh, relay=urls[2], name="Alice")
    assert s.ping() > 0
    s.close()


def test_a_claimed_code_stays_used_in_the_shared_bucket_after_the_relay_that_issued_it_died(
        cluster: tuple[Path, StartRelay], procs: list[Proc], tmp_path: Path) -> None:
    _, start = cluster
    (a, url_a), (_, url_b), (_, url_c) = start(), start(), start()
    agent, code = start_agent(url_a, tmp_path / "agent")
    procs.append(agent)
    s = connect(code, relay=url_b, name="Alice")  # claimed by A, the relay whose agent holds the code
    assert s.ping() > 0
    a.kill()  # A's code book is gone: only the bucket can say the code was used
    with pytest.raises(CodeInUse):
        connect(code, relay=url_c, name="Bob")
