"""The session core end to end: relay, agent and technician in separate processes on loopback."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from pathlib import Path

import pytest
from websockets.asyncio.client import connect as ws_connect

from tests import requires
from wire import protocol
from wire.chain import read_records, verify_file
from wire.chain_compare import compare_files
from workbench import BadCode, CodeBurned, CodeExpired, CodeInUse, SessionEnded, Unauthorized, connect
from workbench.lab import Proc, free_port, start_agent, start_relay


def agent_journal(data: Path) -> Path:
    (journal,) = sorted((data / "journals").glob("*.jsonl"))
    return journal


def records(path: Path) -> list[dict[str, object]]:
    return read_records(path)


def test_a_whole_session(relay: tuple[Proc, str, Path], procs: list[Proc], tmp_path: Path) -> None:
    _, url, relay_data = relay
    agent, code = start_agent(url, tmp_path / "agent")
    procs.append(agent)
    s = connect(code, relay=url, name="Alice")
    agent.wait_for(r"Alice")  # the customer is told who connected
    assert s.session_id and s.machine["hostname"] == socket.gethostname()
    html = s._repr_html_()
    assert s.session_id in html and "allowed" in html

    inventory = s.inventory()
    agent.wait_for(r"read your system information")  # said in plain words to the customer
    facts = inventory.to_dict()
    assert facts  # every R4 fact is covered in test_inventory; here: it crossed the wire
    assert s.ping() > 0
    assert [call.method for call in s.history] == ["inventory.collect", "session.ping"]
    assert all(call.outcome == "ok" and call.duration_s > 0 for call in s.history)

    s.close()
    assert agent.wait(30) == 0
    assert s.ended_at is not None
    with pytest.raises(SessionEnded):
        s.ping()

    journal = agent_journal(tmp_path / "agent")
    result = verify_file(journal)
    assert result.ok
    kinds = [r["kind"] for r in records(journal)]
    assert kinds[0] == "consent" and "session_start" in kinds and kinds[-1] == "session_end"
    assert kinds.count("call") == kinds.count("outcome") == 2
    consent = records(journal)[0]
    assert consent["how"].startswith("given outside the window") and len(str(consent["terms_sha256"])) == 64

    (session_dir,) = (relay_data / "sessions").iterdir()
    meta = json.loads((session_dir / "session.json").read_text())
    assert meta["session_id"] == s.session_id and meta["ended_at"] and meta["started_at"]
    assert meta["end_reason"] == "technician_closed" and not meta.get("journal_alerts")
    relay_copy = verify_file(session_dir / "journal.jsonl")
    assert relay_copy.ok and relay_copy.head == result.head  # the two copies agree
    assert compare_files(journal, session_dir).status == "verified"  # record by record, and no alert on the way
    assert not s.journal_alerts and "journal_alert" not in kinds


def test_the_customer_ends_the_session(relay: tuple[Proc, str, Path], procs: list[Proc], tmp_path: Path) -> None:
    _, url, relay_data = relay
    agent, code = start_agent(url, tmp_path / "agent")
    procs.append(agent)
    s = connect(code, relay=url, name="Alice")
    s.ping()
    agent.signal(signal.SIGINT)  # Ctrl-C
    assert agent.wait(30) == 0
    with pytest.raises(SessionEnded):
        s.call("session.ping", timeout=10)
    assert s.ended_at is not None and s.end_reason == "customer_ended"
    last = records(agent_journal(tmp_path / "agent"))[-1]
    assert last["kind"] == "session_end" and last["by"] == "customer"
    (session_dir,) = (relay_data / "sessions").iterdir()
    meta = json.loads((session_dir / "session.json").read_text())
    assert meta["ended_at"] and meta["ended_by"] == "customer"


def test_tries_against_a_code_burn_it_and_the_customer_gets_a_new_one(
        relay: tuple[Proc, str, Path], procs: list[Proc], tmp_path: Path) -> None:
    _, url, _ = relay
    agent, code = start_agent(url, tmp_path / "agent")
    procs.append(agent)
    digits = code.replace(" ", "")
    for n in range(5):  # one digit wrong each time: someone who half-read this code
        typo = digits[:n] + str((int(digits[n]) + 1) % 10) + digits[n + 1:]
        with pytest.raises(BadCode):
            connect(typo, relay=url, name="Mallory")
    with pytest.raises(CodeBurned):
        connect(code, relay=url, name="Alice")
    fresh = agent.wait_for(r"session code: (\d{3} \d{3} \d{3})").group(1)
    assert fresh != code
    s = connect(fresh, relay=url, name="Alice")
    s.ping()
    with pytest.raises(CodeInUse, match="already in use"):  # used once, and said so
        connect(fresh, relay=url, name="Bob")
    s.close()


def test_codes_expire(tmp_path: Path, procs: list[Proc]) -> None:
    relay, url = start_relay(tmp_path / "relay", 0, "--code-ttl", "1")
    procs.append(relay)
    agent, code = start_agent(url, tmp_path / "agent")
    procs.append(agent)
    fresh = agent.wait_for(r"session code: (\d{3} \d{3} \d{3})").group(1)  # handed after the first expired
    with pytest.raises(CodeExpired):
        connect(code, relay=url, name="Alice")
    assert fresh != code


def test_only_listed_technicians_are_admitted(tmp_path: Path, procs: list[Proc]) -> None:
    listing = tmp_path / "technicians.json"
    listing.write_text(json.dumps({"Alice Martin": "correct horse"}))
    relay, url = start_relay(tmp_path / "relay", 0, "--technicians", str(listing))
    procs.append(relay)
    agent, code = start_agent(url, tmp_path / "agent")
    procs.append(agent)
    with pytest.raises(Unauthorized):
        connect(code, relay=url, name="Alice Martin", key="wrong")
    with pytest.raises(Unauthorized):
        connect(code, relay=url, name="Eve", key="correct horse")
    s = connect(code, relay=url, name="Alice Martin", key="correct horse")
    agent.wait_for(r"Alice Martin")
    s.close()


def test_bad_input_gets_coded_errors_and_the_session_goes_on(
        relay: tuple[Proc, str, Path], procs: list[Proc], tmp_path: Path) -> None:
    _, url, _ = relay
    agent, code = start_agent(url, tmp_path / "agent")
    procs.append(agent)
    s = connect(code, relay=url, name="Alice")

    with pytest.raises(Exception) as unknown:
        s.call("no.such.method")
    assert getattr(unknown.value, "code", None) == "unknown_method"
    with pytest.raises(Exception) as too_large:
        s.call("session.ping", data=b"\0" * (protocol.MAX_MESSAGE_BYTES + 1))
    assert getattr(too_large.value, "code", None) == "too_large"

    async def one_reply(frame: str | bytes) -> dict[str, object]:
        async with ws_connect(url, compression=None, max_size=None) as ws:
            await ws.send(frame)
            return dict(json.loads(await ws.recv()))

    forged = protocol.encode(protocol.Message(
        "hello", {"role": "technician", "resume": {"session_id": s.session_id, "token": "forged"}}))
    frames: list[str | bytes] = [forged, "{not json", json.dumps({"v": 1, "type": "hello", "role": 7}),
                                 json.dumps({"v": 1, "type": "request", "id": "x", "method": "m", "params": {}})]
    replies = [asyncio.run(one_reply(frame)) for frame in frames]
    assert [r["code"] for r in replies] == ["unauthorized", "bad_message", "bad_message", "bad_message"]
    # (a large message before pairing closes the connection: tests/relay/test_relay_limits.py)

    # garbage on the technician's own, paired connection: an error, and the connection stays
    client = s._client
    assert client._ws is not None
    asyncio.run_coroutine_threadsafe(client._ws.send("{garbage"), client._loop).result(10)
    assert s.ping() > 0
    assert [e.code for e in client.unsolicited_errors] == ["bad_message"]
    assert s.ping() > 0  # relay and agent still serve the session
    assert agent.popen.poll() is None
    s.close()


def test_the_session_survives_a_relay_restart(tmp_path: Path, procs: list[Proc]) -> None:
    port = free_port()
    relay, url = start_relay(tmp_path / "relay", port)
    procs.append(relay)  # stopped at the end even if a step below fails (kill below is idempotent)
    agent, code = start_agent(url, tmp_path / "agent")
    procs.append(agent)
    s = connect(code, relay=url, name="Alice")
    s.ping()
    relay.kill()  # the relay's process dies; both sides see the link drop
    pending = s.submit("session.ping", timeout=60)  # made while the relay is down
    agent.wait_for(r"reconnecting")
    relay, _ = start_relay(tmp_path / "relay", port)
    procs.append(relay)
    assert pending.result(60).value == {"pong": True}
    s.ping()
    s.close()
    assert agent.wait(30) == 0
    journal = records(agent_journal(tmp_path / "agent"))
    seqs = [r["seq"] for r in journal]
    assert seqs == list(range(1, len(seqs) + 1))
    calls = [r for r in journal if r["kind"] == "call"]
    assert len(calls) == 3 and len({r["request"] for r in calls}) == 3  # nothing lost, nothing twice
    (session_dir,) = (tmp_path / "relay" / "sessions").iterdir()
    copy = verify_file(session_dir / "journal.jsonl")
    assert copy.ok and copy.head == verify_file(agent_journal(tmp_path / "agent")).head


def test_a_killed_agent_leaves_a_journal_that_verifies(
        relay: tuple[Proc, str, Path], procs: list[Proc], tmp_path: Path) -> None:
    _, url, _ = relay
    agent, code = start_agent(url, tmp_path / "agent")
    procs.append(agent)
    s = connect(code, relay=url, name="Alice")
    answered = [s.call("session.ping").value for _ in range(20)]
    assert len(answered) == 20
    agent.kill()
    result = verify_file(agent_journal(tmp_path / "agent"))
    assert result.ok
    outcomes = [r for r in records(agent_journal(tmp_path / "agent")) if r["kind"] == "outcome"]
    assert len(outcomes) >= 20  # every acknowledged call's outcome was on disk before its answer
    with pytest.raises(Exception) as lost:
        s.call("session.ping", timeout=3)
    assert getattr(lost.value, "code", None) in ("timeout", "connection_lost")
    s._client.close()


def test_a_session_over_wss(tmp_path: Path, procs: list[Proc]) -> None:
    import subprocess

    requires.tool("openssl", "openssl")
    cert, key = tmp_path / "relay.crt", tmp_path / "relay.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    relay, url = start_relay(tmp_path / "relay", 0, "--certfile", str(cert), "--keyfile", str(key))
    procs.append(relay)
    assert url.startswith("wss://")
    agent, code = start_agent(url, tmp_path / "agent", "--cafile", str(cert))
    procs.append(agent)
    with pytest.raises(Exception) as untrusted:  # without trusting the relay's certificate: refused
        connect(code, relay=url, name="Alice")
    assert getattr(untrusted.value, "code", None) == "connection_lost"
    s = connect(code, relay=url, name="Alice", cafile=cert)
    assert s.ping() > 0
    s.close()
    assert agent.wait(30) == 0


def test_a_folder_that_cannot_be_protected_stops_the_agent_plainly(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "agent.cli", "--relay", "ws://127.0.0.1:9", "--data",
                             str(tmp_path / "agent"), "--accept-terms", "--no-window", "--forbid",
                             str(tmp_path / "no-such-folder")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "cannot protect" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "agent" / "journals").exists()  # nothing started, nothing recorded
