"""A technician who sends what no method takes, an agent that answers what no workbench reads (issue 14, 4 and 10).

Real relay, real agent (or a fake one speaking the wire), real workbench, on loopback.
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from agent.cli import main as agent_main
from agent.link import plain_ws_refusal
from wire import protocol
from wire.chain import read_records
from wire.errors import ProtocolError, TooDeep
from workbench import connect
from workbench.lab import Proc, start_agent


def nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.mark.parametrize("levels", [500, 900])
def test_deeply_nested_parameters_get_an_answer_and_a_journal_record(
        levels: int, relay: tuple[Proc, str, Path], procs: list[Proc], tmp_path: Path) -> None:
    _, url, _ = relay
    agent, code = start_agent(url, tmp_path / "agent")
    procs.append(agent)
    s = connect(code, relay=url, name="Alice")
    with pytest.raises(TooDeep) as refused:
        s.call("files.list", {"path": nested(levels)}, timeout=50)  # before: no answer at all, for 60 s
    assert refused.value.code == "too_deep"
    assert s.ping() > 0  # the session goes on
    (failed,) = [call for call in s.history if call.outcome == "error"]
    s.close()
    assert agent.wait(30) == 0
    (journal,) = (tmp_path / "agent" / "journals").glob("*.jsonl")
    records = read_records(journal)
    (call,) = [r for r in records if r["kind"] == "call" and r["method"] == "files.list"]
    (outcome,) = [r for r in records if r["kind"] == "outcome" and r["request"] == call["request"]]
    assert outcome["outcome"] == "error" and outcome["code"] == "too_deep"
    assert "too_deep" in str(failed.error)


class FakeAgent:
    """Speaks the wire like an agent, pairs, and answers each method with what *answers* says."""

    def __init__(self, url: str, answers: dict[str, dict[str, Any]]) -> None:
        self.url = url
        self.answers = answers
        self.code: str | None = None
        self.has_code = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=asyncio.run, args=(self._run(),), daemon=True)
        self.thread.start()

    async def _run(self) -> None:
        async with ws_connect(self.url, compression=None) as ws:
            await ws.send(protocol.encode(protocol.Message("hello", {
                "role": "agent", "consent": {"how": "fake"}, "machine": {"hostname": "fake"}})))
            while not self.stop.is_set():
                try:
                    message = protocol.decode(await asyncio.wait_for(ws.recv(), 0.5))
                except TimeoutError:
                    continue
                except ConnectionClosed:
                    return  # the relay ended the session (the technician closed it) before the test said stop
                if message.type == "welcome" and "code" in message.fields:
                    self.code = str(message["code"])
                    self.has_code.set()
                elif message.type == "request":
                    fields = {"id": message["id"], **self.answers[message["method"]]}
                    await ws.send(json.dumps({"v": 1, "type": "response", **fields}))
                elif message.type == "bye":
                    return


def test_a_malformed_answer_is_a_protocol_error_not_a_key_error(relay: tuple[Proc, str, Path]) -> None:
    _, url, _ = relay
    fake = FakeAgent(url, {
        "files.list": {"result": {"path": "/"}},  # no entries
        "files.read": {"result": {}},
        "session.describe": {"result": [1, 2]},
        "session.ping": {},  # no result at all
    })
    assert fake.has_code.wait(30) and fake.code
    s = connect(fake.code, relay=url, name="Alice")
    try:
        for call in (lambda: s.files.list("/"), lambda: s.files.read("/x"), s.describe, s.ping):
            with pytest.raises(ProtocolError) as malformed:
                call()
            assert malformed.value.code == "bad_message" and not isinstance(malformed.value, KeyError)
        with pytest.raises(ProtocolError, match=r"answer to files.read has no 'text'"):
            s.files.read("/x")
    finally:
        fake.stop.set()
        s.close()


def test_the_agent_refuses_a_plain_ws_relay_on_another_machine(capsys: pytest.CaptureFixture[str]) -> None:
    for url in ("ws://127.0.0.1:8765", "ws://localhost:8765", "ws://[::1]:8765", "wss://relay.example:443"):
        assert plain_ws_refusal(url) is None
    assert plain_ws_refusal("ws://relay.example:8765") is not None
    assert plain_ws_refusal("ws://192.0.2.7:8765") is not None
    assert plain_ws_refusal("ws://192.0.2.7:8765", insecure_ws=True) is None
    with pytest.raises(SystemExit) as refused:
        agent_main(["--relay", "ws://192.0.2.7:8765", "--no-window", "--accept-terms"])
    assert refused.value.code == 2
    assert "--insecure-ws" in capsys.readouterr().err
